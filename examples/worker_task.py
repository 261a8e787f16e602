"""A headline from a background worker: a Celery-style task that reaches the listeners of
``examples/rest_broadcast.py`` without any Sanic process in its path.

A task runs in a worker process that is not a Sanic server. ``SyncEmitter`` publishes the
way an instance would (same channel, same frame), so every instance delivers the headline
to the topic's listeners. Run the app on Redis, then the task::

    SANIC_WSNS_BROKER=redis://127.0.0.1:6379/0 sanic examples.rest_broadcast:app --workers 2
    SANIC_WSNS_BROKER=redis://127.0.0.1:6379/0 python -m examples.worker_task sport "a goal"

With Celery, the body of ``announce`` is the task (``@app.task def announce(...)``), and
one ``SyncEmitter`` per worker process can serve every task (it is thread-safe).
"""

import os
import sys

from sanic_wsns.emitter import SyncEmitter

#: The app's pattern, named here so that the worker need not import the Sanic app.
PATTERNS = {"/ws/news/<topic:slug>": None}  # None: the pattern keeps no history


def announce(topic: str, text: str) -> None:
    broker = os.environ.get("SANIC_WSNS_BROKER", "redis://127.0.0.1:6379/0")
    with SyncEmitter(broker, patterns=PATTERNS) as emitter:
        emitter.broadcast(f"/ws/news/{topic}", "headline", {"text": text})


if __name__ == "__main__":
    announce(*sys.argv[1:3])
