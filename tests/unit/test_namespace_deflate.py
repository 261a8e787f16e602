"""A namespace's delivery with ``WSNS_COMPRESSION`` on: each frame compressed once,
whatever the number of clients that agreed on permessage-deflate, and the same bytes
written to each of them; the others get the frame as it was."""

from __future__ import annotations

from typing import Any

from sanic_wsns.deflate import FrameDeflater
from sanic_wsns.namespace import Namespace
from sanic_wsns.protocol import ws_text_frame

FRAME = ws_text_frame(b'{"type":"event","data":"' + b"0123456789" * 100 + b'"}')


class CountingDeflater(FrameDeflater):
    __slots__ = ("calls",)

    def __init__(self) -> None:
        super().__init__(threshold=0)
        self.calls = 0

    def deflate(self, frame: bytes) -> bytes:
        self.calls += 1
        return super().deflate(frame)


class Peer:
    """What ``Namespace.deliver`` uses of a client: its id, its deflater, ``write``."""

    def __init__(self, id: str, deflater: FrameDeflater | None):
        self.id = id
        self.deflater = deflater
        self.written: list[bytes] = []

    def write(self, frame: bytes) -> bool:
        self.written.append(frame)
        return True


def namespace_with(peers: list[Peer], deflater: FrameDeflater | None) -> Namespace:
    namespace = Namespace(publisher=Any, pattern=Any, path="/ws/x", params={},  # type: ignore[arg-type]
                          deflater=deflater)
    namespace.clients.update((peer.id, peer) for peer in peers)  # type: ignore[misc]
    return namespace


def test_a_frame_is_compressed_once_and_every_client_that_agreed_gets_the_same_bytes():
    deflater = CountingDeflater()
    agreed = [Peer(f"c{i}", deflater) for i in range(5)]
    plain = Peer("plain", None)
    namespace = namespace_with([*agreed[:2], plain, *agreed[2:]], deflater)
    namespace.deliver(FRAME)
    assert deflater.calls == 1
    [compressed] = {peer.written[0] for peer in agreed}
    assert compressed != FRAME and compressed[0] == 0xC1  # FIN, RSV1, text
    assert plain.written == [FRAME]
    assert namespace.counters.messages_out == 6


def test_excluded_clients_get_nothing_and_no_client_that_agreed_costs_no_compression():
    deflater = CountingDeflater()
    excluded = Peer("me", deflater)
    plain = Peer("plain", None)
    namespace = namespace_with([excluded, plain], deflater)
    namespace.deliver(FRAME, exclude=("me",))
    assert excluded.written == [] and plain.written == [FRAME]
    assert deflater.calls == 0
