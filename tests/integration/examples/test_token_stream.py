"""examples/token_stream.py in the test's process, read as its page reads it: a raw SSE
reader (an ``EventSource``'s requests, no SDK). A reload in the middle of the stream
resumes from the last event id, and the text is the generator's output exactly, with no
chunk lost or repeated; a second reader from the top gets the same text."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from sanic_wsns import testing
from tests.support.demo import http
from tests.support.sse_reader import Stream, open_stream

PROMPT = "tell me about streams"
#: The chunk after which the generator waits for the test (the reader "reloads" there).
HELD_AT = 20


@pytest.fixture
def example(monkeypatch):
    from examples import token_stream  # imported here: it builds the module's app

    held, release = asyncio.Event(), asyncio.Event()

    async def pace(index: int) -> None:
        if index == HELD_AT:
            held.set()
            await release.wait()
        await asyncio.sleep(0)

    monkeypatch.setattr(token_stream, "pace", pace)
    return token_stream, held, release


@asynccontextmanager
async def reading(server: testing.Server, stream_id: str, *, since: str, epoch: str,
                  last_event_id: str | None = None) -> AsyncIterator[Stream]:
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    path = f"/wsns/sse/ws/streams/{stream_id}?since={since}&epoch={epoch}"
    stream = await open_stream(server.host, server.port, path, headers)
    try:
        assert stream.status == 200
        yield stream
    finally:
        await stream.close()


async def chunks_until(stream: Stream, *, done: bool, count: int = 0) -> list[str]:
    """The chunks' texts, until ``done`` (the stream's end) or ``count`` of them."""
    texts: list[str] = []
    while True:
        event = await stream.next()
        if event.type == "done" and done:
            return texts
        if event.type == "chunk":
            texts.append(event.frame["data"]["text"])
            if not done and len(texts) == count:
                return texts


async def test_a_reload_mid_stream_resumes_from_the_last_event_id_and_the_text_is_exact(example):
    token_stream, held, release = example
    expected = "".join(token_stream.generate(PROMPT))
    async with testing.serve(token_stream.app) as server:
        epoch = (await http(server, "GET", "/streams/s1")).data["epoch"]
        async with reading(server, "s1", since="0", epoch=epoch) as first_tab:
            assert (await http(server, "POST", "/streams/s1", {"prompt": PROMPT})).status == 202
            before = await chunks_until(first_tab, done=False, count=HELD_AT + 1)
            await asyncio.wait_for(held.wait(), 5)
            last_id = first_tab.last_id
        # The page reloads while the generator is held mid-stream; more comes after it is back.
        async with reading(server, "s1", since="0", epoch=epoch, last_event_id=last_id) as reloaded:
            release.set()
            after = await chunks_until(reloaded, done=True)
        assert last_id == f"{epoch}:{HELD_AT + 1}"
        assert "".join(before + after) == expected
        assert len(before) + len(after) == token_stream.CHUNKS
        async with reading(server, "s1", since="0", epoch=epoch) as second_tab:
            assert "".join(await chunks_until(second_tab, done=True)) == expected


async def test_a_second_start_of_a_running_stream_is_refused_and_a_bad_body_is_400(example):
    token_stream, held, release = example
    async with testing.serve(token_stream.app) as server:
        assert (await http(server, "POST", "/streams/s2", {"prompt": PROMPT})).status == 202
        await asyncio.wait_for(held.wait(), 5)
        assert (await http(server, "POST", "/streams/s2", {"prompt": PROMPT})).status == 409
        assert (await http(server, "POST", "/streams/s3", {"prompt": 7})).status == 400
        release.set()


async def test_two_generators_of_one_stream_as_two_instances_would_run_add_no_chunk_twice(example):
    token_stream, _, release = example
    release.set()
    async with testing.serve(token_stream.app) as server:
        epoch = (await http(server, "GET", "/streams/s4")).data["epoch"]
        async with reading(server, "s4", since="0", epoch=epoch) as reader:
            # What a repeated POST taken by another instance starts: the same stream again.
            await asyncio.gather(token_stream.produce("s4", PROMPT), token_stream.produce("s4", PROMPT))
            texts = await chunks_until(reader, done=True)
        assert "".join(texts) == "".join(token_stream.generate(PROMPT))
