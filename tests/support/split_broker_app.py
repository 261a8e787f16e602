"""``examples.quickstart`` with a broker URL per Sanic worker, so that a test can cut one
worker off Redis while the others keep it: ``WSNS_TEST_WORKER_BROKERS`` holds the URLs,
comma-separated; worker N (Sanic's ``SANIC_WORKER_NAME`` ``...-Server-N-...``) takes the
Nth, the main process the first."""

import os
import re

_urls = os.environ["WSNS_TEST_WORKER_BROKERS"].split(",")
_worker = re.search(r"Server-(\d+)", os.environ.get("SANIC_WORKER_NAME", ""))
os.environ["SANIC_WSNS_BROKER"] = _urls[int(_worker.group(1)) % len(_urls) if _worker else 0]

from examples.quickstart import app  # noqa: E402  (reads the env at import)

__all__ = ["app"]
