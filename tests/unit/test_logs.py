"""Values in an upgrade URL's query string never reach Sanic's access log."""

from __future__ import annotations

import logging

from sanic_wsns.logs import RedactUpgradeQueries, redact_query


def test_query_values_are_dropped_and_names_kept():
    assert redact_query("ws://h:1/ws/1?token=abc.def&since=4&epoch=e") == "ws://h:1/ws/1?token=…&since=…&epoch=…"
    assert redact_query("ws://h/ws/1") == "ws://h/ws/1"


def record(request: str) -> logging.LogRecord:
    made = logging.LogRecord("sanic.access", logging.INFO, __file__, 1, "OPEN", (), None)
    made.request = request
    return made


def test_the_access_log_filter_rewrites_websocket_lines_only():
    redact = RedactUpgradeQueries()
    ws = record(" 🔌 wss://example.org/ws/rooms/1?token=SECRET")
    http = record("GET http://example.org/page?q=search")
    assert redact.filter(ws) and redact.filter(http)
    assert "SECRET" not in ws.request and "token=…" in ws.request
    assert http.request == "GET http://example.org/page?q=search"
