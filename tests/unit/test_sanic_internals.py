"""What ``sanic_wsns.sanic_internals`` relies on in Sanic, checked against the installed
Sanic's own ``WebsocketImplProtocol``: a Sanic release that changes one of these fails
here, loudly, before any connection misbehaves."""

import asyncio
import inspect
import re
import zlib

import pytest
from sanic.exceptions import ServerError
from sanic.server.protocols import websocket_protocol
from sanic.server.protocols.websocket_protocol import WebSocketProtocol
from sanic.server.websockets import impl
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from sanic_wsns.errors import ConfigError
from sanic_wsns.sanic_internals import (
    DeflateServerProtocol,
    FrameSink,
    SlimEvent,
    SlimWebsocket,
    agreed_extension,
    offer_deflate,
    slim_upgrades,
    take_frames,
    until_closed,
)


def sanic_websocket() -> WebsocketImplProtocol:
    """Sanic's WebSocket as its handshake builds it, minus the socket: frames are fed to
    ``process_events``, the method Sanic's ``data_received`` calls."""
    ws = WebsocketImplProtocol(ServerProtocol(state=State.OPEN))
    ws.loop = asyncio.get_running_loop()
    return ws


def read(*frames: Frame) -> bytes:
    """One read's worth of bytes, as a browser masks them."""
    return b"".join(frame.serialize(mask=True) for frame in frames)


def text(data: bytes, fin: bool = True, opcode: Opcode = Opcode.TEXT) -> Frame:
    return Frame(opcode, data, fin)


async def test_sanic_hands_every_data_frame_to_the_sink_in_its_place():
    ws = sanic_websocket()
    sink = take_frames(ws, 64, 1 << 20)
    assert ws.assembler is sink
    got: list[str | bytes] = []
    sink.start(got.append)
    await ws.process_events([text(b"one"), Frame(Opcode.BINARY, b"\x00two"), Frame(Opcode.PING, b"p"),
                             text(b"thr", fin=False), text(b"ee", opcode=Opcode.CONT)])
    assert got == ["one", b"\x00two", "three"]


async def test_messages_wait_in_order_until_the_sink_is_started():
    ws = sanic_websocket()
    sink = take_frames(ws, 64, 1 << 20)
    await ws.process_events([text(b"early"), text(b"later")])
    got: list[str | bytes] = []
    sink.start(got.append)
    await ws.process_events([text(b"live")])
    assert got == ["early", "later", "live"]


async def test_a_close_frame_ends_until_closed_as_it_ended_recv():
    ws = sanic_websocket()
    take_frames(ws, 64, 1 << 20).start(lambda message: None)
    waiting = asyncio.ensure_future(until_closed(ws))
    await asyncio.sleep(0)
    await ws.process_events([Frame(Opcode.CLOSE, Close(CloseCode.NORMAL_CLOSURE, "bye").serialize())])
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 1)


async def test_recv_says_the_frames_are_read_by_sanic_wsns():
    ws = sanic_websocket()
    take_frames(ws, 64, 1 << 20)
    with pytest.raises(ServerError, match="sanic-wsns reads"):
        await ws.recv()


def test_the_sink_answers_everything_sanic_uses_on_an_assembler():
    """Sanic uses ``put`` (frames in) and ``get``/``get_iter`` (``recv*``): a release that
    uses anything new on its assembler fails here instead of on a live connection."""
    used = set(re.findall(r"self\.assembler\.(\w+)", inspect.getsource(impl)))
    assert used <= {"put", "get", "get_iter"}, used
    assert all(callable(getattr(FrameSink, name, None)) for name in used)


def test_sanic_hands_every_read_to_the_websocket_attribute_the_sink_replaces():
    """``take_frames`` reads the socket with ``FrameSink.data_received``: Sanic's
    connection must look ``data_received`` up on the WebSocket at every read."""
    assert "self.websocket.data_received(data)" in inspect.getsource(WebSocketProtocol.data_received)
    ws = WebsocketImplProtocol(ServerProtocol(state=State.OPEN))
    sink = take_frames(ws, 64, 1 << 20)
    assert ws.data_received == sink.data_received


def test_sanic_ends_the_stream_through_the_future_the_sink_resolves():
    """After a Close the sink signals the end of the stream as Sanic's ``send_data`` does."""
    source = inspect.getsource(WebsocketImplProtocol.send_data)
    assert "self.data_finished_fut.set_result(None)" in source and "self.auto_closer_task" in source


async def test_one_read_of_several_frames_hands_on_each_whole_message_in_order():
    ws = sanic_websocket()
    sink = take_frames(ws, 64, 1 << 20)
    got: list[str | bytes] = []
    sink.start(got.append)
    sink.data_received(read(text(b"one"), text(b"thr", fin=False), text(b"ee", opcode=Opcode.CONT),
                            Frame(Opcode.BINARY, b"\x00four")))
    assert got == ["one", "three", b"\x00four"]


async def test_a_pong_acknowledges_its_ping_and_those_sent_before_it():
    """The keepalive sweep waits on the future its ping left in ``ws.pings``."""
    ws = sanic_websocket()
    sink = take_frames(ws, 64, 1 << 20)
    loop = asyncio.get_running_loop()
    earlier, keepalive, later = loop.create_future(), loop.create_future(), loop.create_future()
    ws.pings = {b"earlier": earlier, b"keepalive": keepalive, b"later": later}
    sink.data_received(read(Frame(Opcode.PONG, b"keepalive")))
    assert earlier.done() and keepalive.done() and not later.done()
    assert list(ws.pings) == [b"later"]


async def test_sanic_s_own_ping_task_is_where_the_sink_stops_it():
    """The shared keepalive sweep replaces Sanic's ping task per connection."""
    assert "self.keepalive_ping_task = " in inspect.getsource(WebsocketImplProtocol)
    ws = sanic_websocket()
    sink = take_frames(ws, 64, 1 << 20)
    ping_task = ws.keepalive_ping_task = asyncio.ensure_future(asyncio.sleep(60))
    sink.stop_sanic_keepalive()
    assert ws.keepalive_ping_task is None
    with pytest.raises(asyncio.CancelledError):
        await ping_task


async def test_a_message_over_max_size_fails_the_protocol_with_1009():
    """``take_frames(max_size=)`` is the limit Sanic's protocol object enforces."""
    ws = sanic_websocket()
    sink = take_frames(ws, 64, 1 << 20, max_size=8)
    ws.ws_proto.receive_data(read(text(b"x" * 9)))
    assert sink.close_code_sent() == 1009 and not sink.is_open()


def test_sanic_builds_its_handshake_protocol_from_the_name_offer_deflate_replaces():
    """``offer_deflate`` swaps the class Sanic's handshake builds; Sanic must still build
    websockets' ``ServerProtocol`` by that module-level name, at every upgrade."""
    assert "ws_proto = ServerProtocol(" in inspect.getsource(WebSocketProtocol.websocket_handshake)
    assert websocket_protocol.ServerProtocol in (ServerProtocol, DeflateServerProtocol)


def test_offer_deflate_is_idempotent_and_refuses_a_class_it_does_not_know(monkeypatch):
    monkeypatch.setattr(websocket_protocol, "ServerProtocol", ServerProtocol)
    offer_deflate()
    offer_deflate()
    assert websocket_protocol.ServerProtocol is DeflateServerProtocol
    monkeypatch.setattr(websocket_protocol, "ServerProtocol", type("Other", (ServerProtocol,), {}))
    with pytest.raises(ConfigError, match="cannot negotiate permessage-deflate"):
        offer_deflate()


def test_sanic_builds_its_websocket_from_the_name_slim_upgrades_replaces():
    """``slim_upgrades`` swaps the class Sanic's handshake builds, whose ``connection_made``
    the handshake awaits (in the upgrade's request context: ``tests/integration``)."""
    handshake = inspect.getsource(WebSocketProtocol.websocket_handshake)
    assert "= WebsocketImplProtocol(" in handshake and ".connection_made(" in handshake
    assert websocket_protocol.WebsocketImplProtocol in (WebsocketImplProtocol, SlimWebsocket)


def test_without_a_closer_task_every_end_of_a_sanic_websocket_closes_the_transport():
    """What ``SlimWebsocket`` leaves out: only the closer task awaits the end of the data
    transfer or the lost connection, and with no closer task each of Sanic's ways to end
    a connection closes the transport itself."""
    source = inspect.getsource(WebsocketImplProtocol)
    closer = inspect.getsource(WebsocketImplProtocol.auto_close_connection)
    waits = r"await self\.(?:data_finished_fut|connection_lost_waiter|wait_for_connection_lost)"
    assert re.findall(waits, closer)
    assert not re.findall(waits, source.replace(closer, ""))
    no_closer = (r"if \(not self\.auto_closer_task\) or self\.auto_closer_task\.done\(\):"
                 r"\s+(?:#.*\s+)*return self\._force_disconnect\(\)")
    for ending in (WebsocketImplProtocol.fail_connection, WebsocketImplProtocol.end_connection):
        assert re.search(no_closer, inspect.getsource(ending)), ending
    assert "self.io_proto.transport.close()" in inspect.getsource(WebsocketImplProtocol._force_disconnect)
    for end_of_stream in (WebsocketImplProtocol.send_data, WebsocketImplProtocol.async_eof_received):
        assert "SanicProtocol.close(self.io_proto" in inspect.getsource(end_of_stream)


def test_slim_upgrades_is_idempotent_and_leaves_a_class_it_does_not_know(monkeypatch):
    monkeypatch.setattr(websocket_protocol, "WebsocketImplProtocol", WebsocketImplProtocol)
    slim_upgrades()
    slim_upgrades()
    assert websocket_protocol.WebsocketImplProtocol is SlimWebsocket
    other = type("Other", (WebsocketImplProtocol,), {})
    monkeypatch.setattr(websocket_protocol, "WebsocketImplProtocol", other)
    slim_upgrades()
    assert websocket_protocol.WebsocketImplProtocol is other


async def test_outside_a_sanic_wsns_upgrade_a_slim_websocket_is_sanic_s_own():
    """No request context (as on another app's route the check finds no ``wsns`` mark):
    Sanic's ``connection_made``, closer task and all."""
    ws = SlimWebsocket(ServerProtocol(state=State.OPEN), ping_interval=None)
    io_proto = WebSocketProtocol.__new__(WebSocketProtocol)
    await ws.connection_made(io_proto, asyncio.get_running_loop())
    assert ws.auto_closer_task is not None and ws.data_finished_fut is not None
    ws.auto_closer_task.cancel()


def test_the_agreed_extension_keeps_no_inflater_between_messages():
    """``client_no_context_takeover``: websockets makes an inflater for each compressed
    message and drops it at the message's end, so an idle connection holds no zlib state."""
    extension = agreed_extension()
    assert not hasattr(extension, "decoder") and not hasattr(extension, "encoder")
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    data = (compressor.compress(b"x" * 5000) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    first = extension.decode(Frame(Opcode.TEXT, data[:10], fin=False, rsv1=True), max_size=1 << 16)
    assert hasattr(extension, "decoder")  # while the message's frames arrive
    last = extension.decode(Frame(Opcode.CONT, data[10:]), max_size=1 << 16)
    assert bytes(first.data) + bytes(last.data) == b"x" * 5000
    assert not hasattr(extension, "decoder")


async def test_a_slim_event_wakes_its_waiters_as_asyncio_event_does():
    """``SlimEvent`` stands in for Sanic's ``asyncio.Event``s: same answers, waiters made
    only when one waits."""
    event = SlimEvent(True)
    assert event.is_set() and await event.wait()
    event.clear()
    assert not event.is_set()
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(waiter.done() for waiter in waiters)
    event.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True]
    event.clear()
    cancelled = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    event.set()  # nothing left waiting: the cancelled waiter went away with its wait
    assert event.is_set() and not event._waiters


def test_sanic_s_connection_keeps_the_events_and_the_timer_the_sink_replaces():
    """What ``_slim_events`` and ``_cancel_http_timeouts`` replace: a Sanic release that
    renames them fails here."""
    slots = set(WebSocketProtocol.__slots__) | {slot for cls in WebSocketProtocol.__mro__
                                                 for slot in getattr(cls, "__slots__", ())}
    assert {"_can_write", "_data_received", "_callback_check_timeouts"} <= slots
    source = inspect.getsource(WebSocketProtocol.__mro__[1].check_timeouts)
    assert "upgrade_websocket" in source  # an upgraded connection's check only ends itself
    protocols = "".join(inspect.getsource(cls) for cls in WebSocketProtocol.__mro__[:-2])
    used = set(re.findall(r"self\._(?:can_write|data_received)\.(\w+)", protocols))
    assert used <= {"set", "clear", "is_set", "wait"}, used
