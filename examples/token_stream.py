"""Resumable token streams (core idea 13): generated text, in chunks, to any number of pages.

``POST /streams/<id>`` with ``{"prompt": ...}`` starts a generator that broadcasts each chunk
into the history namespace ``/ws/streams/<id>``; every chunk gets an offset. A page reads
it with a plain ``EventSource`` on ``/wsns/sse/ws/streams/<id>`` (no SDK: token_stream.html):
each chunk is an event whose ``id`` is ``<epoch>:<offset>``, so

- a dropped connection resumes on its own: the ``EventSource`` resends ``Last-Event-ID``
  and the server sends exactly the chunks after it;
- a reload resumes too: the page keeps its text and the last event id in ``sessionStorage``
  and reconnects with ``?since=<offset>&epoch=<epoch>``;
- a second tab starts from the beginning (``since=0`` with the epoch of ``GET /streams/<id>``)
  and shows the same text: one stream, however many readers;
- a stream is one answer: each chunk is broadcast with a key (``<id>:<index>``), so a
  repeated ``POST`` that another instance (or worker) took, starting a second generator,
  adds no chunk twice (idempotent broadcasts, core idea 12).

The generator is a deterministic fake (a model would go there): the same prompt always gives
the same chunks, so a test can compare what a reader assembled with ``"".join(generate(p))``.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from pathlib import Path

import msgspec
from sanic import Sanic
from sanic.response import json

from sanic_wsns import History, WsNamespaces

#: Chunks of one answer; the history keeps them all, so any reader can start from the top.
CHUNKS = 60
#: Seconds between chunks (a model's pace); tests set it with TOKEN_STREAM_DELAY.
DELAY = float(os.environ.get("TOKEN_STREAM_DELAY", "0.15"))
WORDS = ("the", "stream", "resumes", "where", "it", "left", "off", "every", "chunk", "arrives",
         "once", "in", "order", "across", "instances", "and", "reloads", "with", "no", "gap")

app = Sanic("token_stream")
wsns = WsNamespaces(app)
streams = wsns.pattern("/ws/streams/<stream_id:slug>", history=History(size=CHUNKS + 10, ttl=3600))
app.static("/", Path(__file__).with_name("token_stream.html"), name="page")


def generate(prompt: str, chunks: int = CHUNKS) -> Iterator[str]:
    """The fake model: the same ``prompt`` always gives the same ``chunks`` pieces of text
    (a word, sometimes a comma, and a space; a full stop at the end)."""
    pick = random.Random(prompt)
    for index in range(chunks):
        word = pick.choice(WORDS)
        ending = "." if index == chunks - 1 else ", " if pick.random() < 0.1 else " "
        yield (word.capitalize() if index == 0 else word) + ending


class Start(msgspec.Struct):
    prompt: str


#: Streams this instance is generating, so a second POST does not start one twice.
running: dict[str, asyncio.Task[None]] = {}


async def pace(index: int) -> None:
    """The wait after chunk ``index``: a model's pace (a test holds the stream here)."""
    await asyncio.sleep(DELAY)


async def produce(stream_id: str, prompt: str) -> None:
    params = {"stream_id": stream_id}
    try:
        for index, text in enumerate(generate(prompt)):
            await streams.broadcast(params, "chunk", {"index": index, "text": text},
                                    key=f"{stream_id}:{index}")
            await pace(index)
        await streams.broadcast(params, "done", {"chunks": CHUNKS}, key=f"{stream_id}:done")
    finally:
        running.pop(stream_id, None)


@app.post("/streams/<stream_id:slug>")
async def start(request, stream_id):
    try:
        body = msgspec.json.decode(request.body, type=Start)
    except msgspec.DecodeError as error:
        return json({"error": str(error)}, status=400)
    if stream_id in running:
        return json({"error": "this stream is already being generated"}, status=409)
    running[stream_id] = asyncio.get_running_loop().create_task(produce(stream_id, body.prompt))
    return json({"started": stream_id}, status=202)


@app.before_server_stop
async def stop_generating(app):
    for task in list(running.values()):
        task.cancel()


@app.get("/streams/<stream_id:slug>")
async def position(request, stream_id):
    """Where the stream is now: a new reader asks for ``since=0`` in this epoch (everything)."""
    now = await wsns.position(f"/ws/streams/{stream_id}")
    return json({"offset": now.offset, "epoch": now.epoch})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
