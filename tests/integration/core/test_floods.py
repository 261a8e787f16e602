"""Floods of frames that are not messages: control frames from a peer that never reads,
and a message cut into ever more continuation frames. Each is cut off at a stated bound
while another client of the same server is served."""

import asyncio
import threading

from websockets.frames import Close, Opcode

from tests.support.core_app import build_app
from tests.support.rawframes import RawClient, client_frame
from tests.support.servers import serve
from tests.support.wsclient import join, request

MiB = 1024 * 1024


def rss() -> int:
    """This process's resident memory, bytes (the server runs in the test's loop)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def flood(client: RawClient, chunk: bytes, cap: int, started: threading.Event,
          until_answered: bool = False) -> int:
    """Send ``chunk`` again and again, never reading, until the server cuts the connection
    (or, ``until_answered``, sends anything) or ``cap`` bytes went; the bytes sent."""
    sent = 0
    try:
        while sent < cap and not (until_answered and client.readable()):
            client.sock.sendall(chunk)
            sent += len(chunk)
            started.set()
    except OSError:  # reset or broken pipe: the server cut the flooder off
        pass
    started.set()
    return sent


async def test_a_peer_that_sends_pings_and_never_reads_is_cut_at_the_send_queue_bound():
    """Every ping is answered by a pong the flooder never reads: the pongs wait in the
    server's send buffer, which the send-queue bound covers as it covers messages. Bound:
    the flooder is cut before it sent 64 MiB of pings (the 256 KiB queue plus the kernel's
    buffers is far less), no task waits per read, and the server's memory grows by less
    than 48 MiB (before the bound: ~3 bytes per byte of pings, over 190 MiB here)."""
    app, _, _ = build_app(max_send_queue=256 * 1024)
    async with serve(app) as server:
        other, _ = await join(server.ws("/ws/open/bystander"))
        flooder = await asyncio.to_thread(RawClient.connect, server.ws("/ws/open/pinger"), 4096)
        await asyncio.to_thread(flooder.first_frame)
        loop = asyncio.get_running_loop()
        tasks, memory = len(asyncio.all_tasks()), rss()
        most_tasks, most_memory = tasks, memory

        def sample() -> None:
            nonlocal most_tasks, most_memory, sampler
            most_tasks, most_memory = max(most_tasks, len(asyncio.all_tasks())), max(most_memory, rss())
            sampler = loop.call_later(0.005, sample)

        sampler = loop.call_later(0, sample)
        started = threading.Event()
        pings = client_frame(Opcode.PING, b"p" * 125) * 512
        flooding = asyncio.ensure_future(asyncio.to_thread(flood, flooder, pings, 64 * MiB, started))
        await asyncio.to_thread(started.wait, 5)
        assert (await request(other, "ping", "still here"))["data"] == "still here"
        sent = await asyncio.wait_for(flooding, 60)
        sampler.cancel()
        flooder.close()
        assert sent < 64 * MiB
        assert most_tasks - tasks < 20, (tasks, most_tasks)
        assert most_memory - memory < 48 * MiB, ((most_memory - memory) // MiB, sent // MiB)
        assert (await request(other, "ping", "after")) == {"type": "pong", "data": "after", "id": 1}
        await other.close()


async def test_a_message_in_too_many_frames_closes_1008_and_others_are_served():
    """1-byte continuation frames, for ever: the connection is closed with 1008 once the
    message has more frames than ``max_fragments`` allows. (Before that bound, the size
    limit closed it with 1009 only after 65,536 frames, and never for empty ones.)"""
    app, wsns, _ = build_app()
    fragments = wsns.settings.max_fragments
    async with serve(app) as server:
        other, _ = await join(server.ws("/ws/open/bystander"))
        flooder = await asyncio.to_thread(RawClient.connect, server.ws("/ws/open/fragmenter"))
        await asyncio.to_thread(flooder.first_frame)
        flooder.send(client_frame(Opcode.TEXT, b"{", fin=False))
        started = threading.Event()
        burst = 1000
        continuations = client_frame(Opcode.CONT, b" ", fin=False) * burst
        flooding = asyncio.ensure_future(asyncio.to_thread(
            flood, flooder, continuations, 10 * MiB, started, True))
        await asyncio.to_thread(started.wait, 5)
        assert (await request(other, "ping", "still here"))["data"] == "still here"
        sent = await asyncio.wait_for(flooding, 60)
        frames = await asyncio.to_thread(flooder.frames_until_eof)
        flooder.close()
        close = Close.parse(frames[-1].data)
        assert frames[-1].opcode is Opcode.CLOSE and close.code == 1008, close
        assert f"more than {fragments} frames" in close.reason
        assert sent < 10 * MiB  # what the kernel buffers took before the flooder saw the Close
        await other.close()


async def test_many_messages_each_in_max_fragments_frames_are_a_message_flood_closed_1008():
    """Within the per-message bound, a fragmenter sends messages, and the token bucket
    counts those: past ``abuse_limit`` refusals it is closed 1008, so the frames one
    connection can make the server parse are bounded by ``max_fragments`` per message."""
    app, wsns, _ = build_app(abuse_limit=50, abuse_window=60.0)
    settings = wsns.settings
    async with serve(app) as server:
        other, _ = await join(server.ws("/ws/open/bystander"))
        flooder = await asyncio.to_thread(RawClient.connect, server.ws("/ws/open/fragmenter"))
        await asyncio.to_thread(flooder.first_frame)
        pieces = [b"{"] + [b" "] * (settings.max_fragments - 2) + [b"}"]
        message = b"".join(client_frame(Opcode.CONT if i else Opcode.TEXT, piece,
                                        fin=i == len(pieces) - 1) for i, piece in enumerate(pieces))
        messages = message * (settings.rate_burst + settings.abuse_limit + 100)
        await asyncio.to_thread(flood, flooder, messages, len(messages), threading.Event())
        frames = await asyncio.to_thread(flooder.frames_until_eof)
        flooder.close()
        close = Close.parse(frames[-1].data)
        assert frames[-1].opcode is Opcode.CLOSE and close == Close(1008, "rate limit exceeded repeatedly")
        assert (await request(other, "ping", "still here"))["data"] == "still here"
        await other.close()
