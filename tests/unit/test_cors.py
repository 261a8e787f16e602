"""The CORS headers of the SSE stream and its POSTs (pure)."""

from __future__ import annotations

from sanic_wsns.cors import cors_headers, preflight_headers

PAGE = "https://app.example"


def test_an_allowed_origin_gets_itself_back_with_credentials_never_a_star() -> None:
    for allowed in ([PAGE], ["*"]):
        assert cors_headers(PAGE, "api.example", allowed) == {
            "Access-Control-Allow-Origin": PAGE, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def test_no_origin_or_an_origin_not_allowed_gets_nothing() -> None:
    assert cors_headers(None, "api.example", [PAGE]) == {}
    assert cors_headers("https://evil.example", "api.example", [PAGE]) == {}
    assert preflight_headers("https://evil.example", "api.example", [PAGE]) == {}


def test_a_preflight_allows_the_stream_and_the_post() -> None:
    headers = preflight_headers(PAGE, "api.example", [PAGE])
    assert headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert set(headers["Access-Control-Allow-Headers"].split(", ")) == {
        "Authorization", "Content-Type", "Last-Event-ID", "X-Wsns-Client"}
