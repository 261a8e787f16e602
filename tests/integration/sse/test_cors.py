"""CORS for the SSE stream and its POSTs, on a real server: an origin listed in
``WSNS_ALLOWED_ORIGINS`` gets its own origin back with credentials (as Centrifugo answers),
and a preflight that allows the POST's headers; any other origin gets no CORS header and
is refused, as a WebSocket is."""

from __future__ import annotations

from sanic_wsns.cors import ALLOWED_HEADERS
from tests.support.core_app import build_app
from tests.support.demo import Response, http
from tests.support.servers import serve
from tests.support.sse_reader import open_stream, post_frame

SSE = "/wsns/sse"
PAGE = "https://app.example"
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, x-wsns-client, authorization"}


def cors_of(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items()
            if name.startswith("access-control-") or name == "vary"}


def lowered(reply: Response) -> dict[str, str]:
    return {name.lower(): value for name, value in reply.headers.items()}


async def test_an_allowed_origin_reads_the_stream_posts_and_is_preflighted() -> None:
    app, _, _ = build_app(allowed_origins=[PAGE])
    async with serve(app) as srv:
        stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby", {"Origin": PAGE})
        assert stream.status == 200
        assert cors_of(stream.headers) == {"access-control-allow-origin": PAGE, "vary": "Origin",
                                           "access-control-allow-credentials": "true"}
        token = (await stream.next()).frame["data"]["client_token"]
        preflight = lowered(await http(srv, "OPTIONS", f"{SSE}/ws/open/lobby",
                                       headers={"Origin": PAGE, **PREFLIGHT}))
        assert preflight["access-control-allow-origin"] == PAGE
        assert {"Content-Type", "X-Wsns-Client", "Authorization"} <= set(
            preflight["access-control-allow-headers"].split(", "))
        assert "POST" in preflight["access-control-allow-methods"]
        posted = await post_frame(srv, f"{SSE}/ws/open/lobby", {"type": "say", "data": "hi", "id": 1},
                                  token, {"Origin": PAGE})
        assert posted.status == 200, posted.body
        assert lowered(posted)["access-control-allow-origin"] == PAGE
        # A refusal carries them too: the page can read why.
        refused = await open_stream(srv.host, srv.port, f"{SSE}/ws/sync/401", {"Origin": PAGE})
        assert (refused.status, refused.headers.get("access-control-allow-origin")) == (401, PAGE)
        for opened in (stream, refused):
            await opened.close()


async def test_a_preflight_answers_204_with_the_allowed_headers() -> None:
    app, _, _ = build_app(allowed_origins=[PAGE])
    async with serve(app) as srv:
        reply = await http(srv, "OPTIONS", f"{SSE}/ws/open/lobby", headers={"Origin": PAGE, **PREFLIGHT})
        assert reply.status == 204
        assert lowered(reply)["access-control-allow-headers"] == ALLOWED_HEADERS


async def test_an_origin_not_allowed_gets_no_cors_header_and_is_refused() -> None:
    app, _, _ = build_app(allowed_origins=[PAGE])
    async with serve(app) as srv:
        foreign = {"Origin": "https://evil.example"}
        stream = await open_stream(srv.host, srv.port, f"{SSE}/ws/open/lobby", foreign)
        assert (stream.status, cors_of(stream.headers)) == (403, {})
        await stream.close()
        preflight = await http(srv, "OPTIONS", f"{SSE}/ws/open/lobby", headers={**foreign, **PREFLIGHT})
        assert preflight.status == 403
        assert cors_of(lowered(preflight)) == {}
        posted = await post_frame(srv, f"{SSE}/ws/open/lobby", {"type": "say", "data": "hi"}, "x.y", foreign)
        assert (posted.status, cors_of(lowered(posted))) == (403, {})
