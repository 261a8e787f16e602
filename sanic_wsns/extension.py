"""``WsNamespaces``: the Sanic adapter and public API of sanic-wsns.

It wires Sanic (routes, request middleware, listeners, config) and delegates everything
else: ``admission.admit`` judges an upgrade before its handshake, the ``Hub`` hosts
namespaces, delivers and relays frames, and ``connection.serve`` runs one connection.

Follow an upgrade: ``_add_route``'s middleware (``admit``, before the handshake) ->
its route (after the handshake) -> ``serve`` -> ``Hub.host`` (get-or-create) ->
``Hub.join`` ... ``Hub.leave``. And a broadcast: ``Broadcasts.publish`` writes locally and
hands the same bytes to the broker; ``Broadcasts.on_relay`` writes them on the other instances.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import sys
import time
from collections.abc import Callable, Coroutine, Iterable
from importlib import resources
from typing import Any, cast

from sanic import Request, Sanic
from sanic.compat import Header
from sanic.exceptions import NotFound
from sanic.response import HTTPResponse, json, raw
from sanic_routing.exceptions import RouteExists

from .admission import UNJUDGED, Admission, ConnectRate, Refusal, admit, try_later, unmatched
from .awaited import must_await
from .broadcast_handle import Broadcast
from .broker import Broker, parse_broker_url, redact
from .client_tokens import ClientTokens
from .config import Settings, load_settings
from .connection import serve
from .cors import cors_headers, preflight_headers
from .errors import BrokerUnavailable, CloseCode, ConfigError, Denied, OverCapacity
from .history import History
from .hub import Hub
from .interfaces import Exclude
from .keepalive import KeepaliveSweep
from .limits import TokenBucket
from .logs import follow_sanic_logging, redact_upgrade_queries
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics, OutboxStats, Snapshot, outbox_totals, prepare_multiprocess
from .namespace import Namespace
from .pattern import AnyCallable, Hook, Pattern, call
from .recovery import Position
from .registry import Registry
from .sanic_internals import NegotiatedProtocol, offer_deflate, slim_upgrades
from .sse_post import post
from .sse_stream import DEFAULT_PING, refused, stream
from .tokens import MalformedToken, read_offer

logger = logging.getLogger("sanic_wsns")

#: Every WebSocket route's subprotocols: ``wsns.v1`` when the upgrade offers it.
NEGOTIATED = cast(list[str], NegotiatedProtocol())

#: Distinct unmatched upgrade paths logged (a scan of random paths logs this many, then stops).
UNMATCHED_LOGGED = 100
#: Where the instances of a deployment keep the SSE secret they share when none is set
#: (after ``channel_prefix``: deployments on one Redis keep theirs apart).
SSE_SECRET_KEY = "sse_secret"


class WsNamespaces:
    """One WebSocket namespace per resource.

    Use it as ``wsns = WsNamespaces(app, broker="redis://...")``, or build it without an
    app and hand it to sanic-ext: ``app.extend(extensions=[WsnsExtension(wsns)])``.
    Keyword arguments are settings (see ``Settings``) and win over ``app.config.WSNS_*``;
    ``broker`` is a URL or a broker the app built (``broker=RedisBroker(url, sharded=True)``),
    which gets its handlers when the server starts.
    """

    def __init__(self, app: Sanic[Any, Any] | None = None, **settings: Any):
        broker = settings.get("broker")
        given = broker if isinstance(broker, Broker) else None
        if given is not None:
            settings["broker"] = given.url
        self._overrides = settings
        self.patterns: list[Pattern] = []
        self._default_history: list[Pattern] = []  # history=True: sized by the settings
        self._given_broker = given
        # Read once, with the app's config when the app is known now; an instance built
        # for sanic-ext meets its app at ``attach`` and reads them again there. The hub is
        # built from the final settings, in one step, when the app is attached.
        self._settings = load_settings(app.config if app is not None else {}, settings)
        self._settings_read_for = app
        self._hub: Hub | None = None
        self._stats_authorizer: AnyCallable | None = None
        self._keepalive: KeepaliveSweep | None = None
        self._metrics: Metrics | None = None
        self._outbox_relays: list[OutboxStats] = []
        self._bad_path_prefixes: set[str] = set()
        self._unmatched_roots: set[str] = set()
        self._unmatched: set[str] = set()
        self._connect_rate = ConnectRate(None, 1)  # set from the settings at attach
        self._open_rate: TokenBucket | None = None  # the instance's opens (set at attach)
        #: SSE: the streams' client tokens, the POSTs' buckets (per client id), the
        #: seconds between a stream's ``: ping`` comments (all set at attach / start).
        self._client_tokens = ClientTokens(b"")
        self._post_rate = ConnectRate(None, 1)
        self._sse_ping = DEFAULT_PING
        self._app: Sanic[Any, Any] | None = None
        if app is not None:
            self.attach(app)

    # -- wiring into Sanic ------------------------------------------------------------------

    def attach(self, app: Sanic[Any, Any]) -> None:
        """Register routes, middleware and listeners on ``app`` (done once)."""
        if self._app is not None:
            raise ConfigError("this WsNamespaces is already attached to an app")
        self._app = app
        if app is not self._settings_read_for:
            self._settings = load_settings(app.config, self._overrides)
        self._hub = Hub(self._settings, self._given_broker, patterns=self.patterns)
        self._connect_rate = ConnectRate(self.settings.connect_rate, self.settings.connect_burst)
        if self.settings.open_rate is not None:
            self._open_rate = TokenBucket(self.settings.open_rate, self.settings.open_burst, time.monotonic())
        self._client_tokens = ClientTokens(self.settings.sse_secret.encode() or secrets.token_bytes(32))
        self._post_rate = ConnectRate(self.settings.rate_limit, self.settings.rate_burst,
                                      abuse=(self.settings.abuse_limit, self.settings.abuse_window))
        for pattern in self._default_history:
            pattern.history = self._settings_history()
        app.ctx.wsns = self
        redact_upgrade_queries()  # a token in an upgrade URL never reaches the access log
        slim_upgrades()  # no closer task per connection on the routes added below
        if self.settings.compression:
            offer_deflate()
        # Routes are added now, not lazily: a WebSocket route added after Sanic picked its
        # connection protocol fails the upgrade with HTTP 500.
        app.enable_websocket()
        for index, pattern in enumerate(self.patterns):
            self._add_route(pattern, index)
        app.add_signal(self._note_unmatched, "http.lifecycle.exception")
        if self.settings.client_url:
            self._add_client_route(app, self.settings.client_url)
        if self.settings.stats_url:
            app.add_route(self._stats_route, self.settings.stats_url, methods=["GET"],
                          name="wsns_stats")
        if self.settings.metrics_url:
            _require_prometheus_client()
            app.add_route(self._metrics_route, self.settings.metrics_url, methods=["GET"],
                          name="wsns_metrics")
            app.register_listener(self._share_metrics, "main_process_start")
        app.register_listener(self._refuse_split_workers, "main_process_start")
        app.register_listener(self._refuse_unresolved_types, "main_process_start")
        app.register_listener(self._start, "before_server_start")
        app.register_listener(self._close_clients, "before_server_stop")
        app.register_listener(self._stop, "after_server_stop")

    @property
    def app(self) -> Sanic[Any, Any]:
        if self._app is None:
            raise ConfigError("WsNamespaces is not attached to an app yet")
        return self._app

    @property
    def hub(self) -> Hub:
        """Hosting and delivery for this instance, built at ``attach`` from the settings
        with the app's config merged in."""
        if self._hub is None:
            raise ConfigError("WsNamespaces is not attached to an app yet")
        return self._hub

    @property
    def settings(self) -> Settings:
        """The settings (before ``attach`` of an instance built without an app: without
        the app's ``WSNS_*`` config yet)."""
        return self._settings

    @property
    def broker(self) -> Broker:
        return self.hub.broker

    @property
    def registry(self) -> Registry[Namespace]:
        return self.hub.registry

    @property
    def instance_id(self) -> str:
        return self.hub.instance_id

    def pattern(self, pattern: str, *, drop_when_empty: bool = True,
                history: History | bool = False, presence: bool = False) -> Pattern:
        """Declare a namespace pattern such as ``/api/1/ws/bubblemap/<map_id:int>``.

        ``history`` (``True`` for the ``WSNS_HISTORY_*`` defaults, or a ``History``) numbers
        its broadcasts and keeps the last ones, so clients and instances catch up after a
        gap instead of re-fetching (docs/recovery.md). ``presence=True`` shows every client
        who else is in its namespace, on every instance (docs/presence.md). Both are off by
        default: they cost broker writes.
        """
        chosen = self._settings_history() if history is True else history or None
        declared = Pattern(lambda: self.hub, pattern, drop_when_empty=drop_when_empty, history=chosen,
                           presence=presence)
        if (chosen or presence) and any(c in pattern + self.settings.channel_prefix for c in "{}"):
            raise ConfigError(f"{pattern}: a pattern with history or presence cannot hold '{{' or '}}' "
                              f"(its Redis keys take the channel as hash tag)")
        if history is True:
            self._default_history.append(declared)
        self.patterns.append(declared)
        if self._app is not None:
            self._add_route(declared, len(self.patterns) - 1)
        return declared

    def _add_route(self, pattern: Pattern, index: int) -> None:
        app = self.app
        name = f"wsns_pattern_{index}"

        async def authorize_upgrade(request: Request) -> None:
            _printable_headers(request)
            request.ctx.wsns_verdict = await self._verdict(pattern, request)

        def route(request: Request, ws: Any, **_params: Any) -> Coroutine[Any, Any, None]:
            # Not a coroutine of its own: Sanic runs the one returned in the handler's task,
            # which then keeps one frame less for every idle connection (bench W3).
            verdict = getattr(request.ctx, "wsns_verdict", UNJUDGED)
            if isinstance(verdict, Refusal):
                return ws.close(verdict.code, verdict.reason)  # type: ignore[no-any-return]
            return serve(self.hub, request, ws, verdict)

        app.add_websocket_route(route, pattern.pattern, name=name, subprotocols=NEGOTIATED,
                                ctx_wsns=True, ctx_wsns_deflate=self.settings.compression)
        app.register_named_middleware(authorize_upgrade, [f"{app.name}.{name}"], "request")
        if self.settings.sse_prefix:
            self._add_sse_route(pattern, index)
        self._add_bad_path_route(pattern.template.prefix)
        root = pattern.template.root
        if self.settings.close_unmatched and root is not None and root not in self._unmatched_roots:
            self._add_unmatched_route(root)

    def _add_sse_route(self, pattern: Pattern, index: int) -> None:
        """``GET {sse_prefix}{pattern}``: the SSE stream (``sse_stream.py``); ``POST``: one
        frame of a stream's client, on any instance (``sse_post.py``). Both are admitted
        as an upgrade is, with the token from ``Authorization: Bearer``, and answer an
        allowed origin with CORS headers (``cors.py``); ``OPTIONS``: their preflight."""

        async def sse_route(request: Request, **_params: Any) -> HTTPResponse | None:
            origin, host = request.headers.get("origin"), request.headers.get("host")
            if request.method == "OPTIONS":
                allowed = preflight_headers(origin, host, self.settings.allowed_origins)
                return HTTPResponse(status=204 if allowed else 403, headers=allowed)
            cors = cors_headers(origin, host, self.settings.allowed_origins)
            connecting = request.method == "GET"
            verdict = await self._verdict(pattern, request, _take_bearer, connecting=connecting)
            answer: HTTPResponse | None
            if isinstance(verdict, Refusal):
                answer = refused(verdict)
            elif connecting:
                answer = await stream(self.hub, request, verdict, self._client_tokens, self._sse_ping, cors)
            else:
                answer = await post(self.hub, request, verdict, self._client_tokens, self._post_rate)
            if answer is not None:  # None: the stream's own headers carried them
                answer.headers.update(cors)
            return answer

        self.app.add_route(sse_route, self.settings.sse_prefix + pattern.pattern,
                           methods=["GET", "POST", "OPTIONS"], name=f"wsns_sse_{index}")

    def _add_bad_path_route(self, prefix: str) -> None:
        """Under a pattern's literal prefix, an upgrade whose parameters do not parse
        (``/ws/rooms/abc`` on ``<room_id:int>``) completes its handshake and is closed with
        1008 "bad path", which the browser client takes as final: Sanic's bare 404 would
        reach a browser as 1006, retried for ever. Sanic routes a typed match first."""
        if prefix == "/" or not prefix.endswith("/") or prefix in self._bad_path_prefixes:
            return  # a pattern starting with a parameter, or one without any: nothing to add
        self._bad_path_prefixes.add(prefix)

        async def bad_path(request: Request, ws: Any, **_params: Any) -> None:
            self.hub.refuse(Refusal(CloseCode.POLICY_VIOLATION, "bad path"))
            logger.info("upgrade refused path=%s code=1008 reason=no pattern matches its parameters",
                        request.path)
            await ws.close(CloseCode.POLICY_VIOLATION, "bad path: no namespace pattern matches it")

        app = self.app
        app.add_websocket_route(bad_path, prefix + "<wsns_bad_path:path>", subprotocols=NEGOTIATED,
                                name=f"wsns_bad_path_{len(self._bad_path_prefixes)}")

    def _add_unmatched_route(self, root: str) -> None:
        """Under a pattern's first segment (``/ws/``), an upgrade that matches no route
        completes its handshake and is closed with 1008 naming the declared patterns: a
        browser cannot read Sanic's 404 (it sees 1006 and retries for ever). Any other
        request there stays a 404, through the app's own error handler. Not added where
        the app already routes every path under that segment itself."""
        self._unmatched_roots.add(root)
        app = self.app
        name = f"wsns_unmatched_{len(self._unmatched_roots)}"

        async def only_upgrades(request: Request) -> None:
            if request.headers.get("upgrade", "").lower() != "websocket":
                raise NotFound(f"Requested URL {request.path} not found")
            _printable_headers(request)

        async def unmatched_upgrade(request: Request, ws: Any, **_params: Any) -> None:
            refusal = unmatched([p.pattern for p in self.patterns])
            self.hub.refuse(refusal)
            self._log_unmatched(request.path, "closed with 1008")
            await ws.close(refusal.code, refusal.reason)

        async def not_found(request: Request, **_params: Any) -> HTTPResponse:
            raise NotFound(f"Requested URL {request.path} not found")

        try:
            app.add_websocket_route(unmatched_upgrade, root + "<wsns_unmatched:path>", name=name,
                                    subprotocols=NEGOTIATED)
            app.add_route(not_found, root + "<wsns_unmatched:path>", name=f"{name}_http",
                          methods=["POST", "PUT", "PATCH", "DELETE"])
        except RouteExists:
            logger.info("the app routes every path under %s itself: an upgrade there that matches "
                        "no pattern gets the app's answer", root)
            return
        app.register_named_middleware(only_upgrades, [f"{app.name}.{name}"], "request")

    async def _note_unmatched(self, request: Request | None, exception: BaseException) -> None:
        """A WebSocket upgrade to a path no route has (outside every pattern's first
        segment, or with ``close_unmatched`` off) stays a 404, but says so in the log."""
        if (request is not None and isinstance(exception, NotFound)
                and request.headers.get("upgrade", "").lower() == "websocket"):
            self._log_unmatched(request.path, "HTTP 404: a browser sees 1006 and retries")

    def _log_unmatched(self, path: str, outcome: str) -> None:
        """Once per path (the set is bounded: a scan of random paths logs this many)."""
        if path in self._unmatched or len(self._unmatched) >= UNMATCHED_LOGGED:
            return
        self._unmatched.add(path)
        logger.warning("websocket upgrade to %s matches no namespace pattern (%s); patterns: %s",
                       path, outcome, ", ".join(p.pattern for p in self.patterns) or "none")

    async def _verdict(self, pattern: Pattern, request: Request, take_token: TokenReader | None = None,
                       *, connecting: bool = True) -> Admission | Refusal:
        """Judge an upgrade before its handshake (request middleware), an SSE stream or a
        POST (``take_token``: where its token is; a POST opens no connection, so the
        connect rate does not apply); count a refusal."""
        headers = request.headers
        try:
            (take_token or _take_token)(request)
        except MalformedToken as exc:
            verdict: Admission | Refusal = Refusal(CloseCode.UNAUTHENTICATED, f"malformed token: {exc}")
        else:
            verdict = await admit(pattern, self.settings, origin=headers.get("origin"),
                                  host=headers.get("host"), params=request.match_info, request=request)
        if isinstance(verdict, Admission) and connecting:
            now = time.monotonic()
            wait = self._connect_rate.allow(verdict.user, now)
            if wait is not None:
                verdict = try_later("too many connections per second", wait)
            elif self._open_rate is not None and not self._open_rate.take(now):
                verdict = try_later("too many connections per second on this instance",
                                    self._open_rate.retry_after())
        if isinstance(verdict, Refusal):
            self.hub.refuse(verdict)
            logger.info("upgrade refused path=%s code=%d reason=%s origin=%s",
                        request.path, verdict.code, verdict.reason, _loggable(headers.get("origin")))
        return verdict

    def _add_client_route(self, app: Sanic[Any, Any], url: str) -> None:
        """The browser client at ``url``, and its TypeScript types beside it
        (``/wsns/client.js`` → ``/wsns/client.d.ts``), so an app needs no bundler."""
        types_url = (url[:-3] if url.endswith(".js") else url) + ".d.ts"
        _add_package_file(app, url, "static/wsns.js", "text/javascript; charset=utf-8", "wsns_client_js")
        _add_package_file(app, types_url, "static/wsns.d.ts", "application/typescript; charset=utf-8",
                          "wsns_client_types")

    # -- public API -------------------------------------------------------------------------

    def resolve(self, path: str) -> tuple[Pattern, dict[str, Any], str]:
        """The pattern, typed params and canonical path for an app-given ``path``."""
        for pattern in self.patterns:
            params = pattern.template.match(path)
            if params is not None:
                return pattern, params, pattern.path(params)
        raise ValueError(f"no namespace pattern matches {path!r}")

    def get(self, path: str) -> Namespace | None:
        """The namespace hosted here for ``path``, if any."""
        return self.hub.registry.get(self.resolve(path)[2])

    def has(self, path: str) -> bool:
        return self.get(path) is not None

    async def create_namespace(self, path: str) -> Namespace:
        """Host ``path``'s namespace now, before any client (no authorize hook runs)."""
        pattern, params, canonical = self.resolve(path)
        namespace = await self.hub.host(pattern, canonical, params)
        if namespace is None:
            raise OverCapacity(f"cannot host {canonical}: instance at capacity")
        return namespace

    def _settings_history(self) -> History:
        s = self.settings
        return History(s.history_size, s.history_ttl, max_bytes=s.history_max_bytes)

    def broadcast(self, path: str, type: str, data: Any = None, *, exclude: Exclude = None,
                  strict: bool = False, confirm: bool = False, key: str | None = None) -> Broadcast:
        """Send ``{type, data}`` to every client of ``path`` on every instance, queued at
        the call; works on an instance that hosts no such namespace (a REST handler, say).
        ``strict``, ``confirm``, ``key`` and what awaiting the returned ``Broadcast`` gives
        (with history, the frame's position): see ``Namespace.broadcast``."""
        pattern, _, canonical = self.resolve(path)
        return self.hub.broadcast(pattern.history, canonical, type, data, exclude, strict=strict,
                                  confirm=confirm, key=key)

    def publish(self, path: str, type: str, data: Any = None, exclude: Exclude = None,
                strict: bool = False) -> None:
        """0.1's ``broadcast`` without an await, for a canonical ``path``, kept for the code
        that calls it: ``strict`` raises here, at the call (see ``Hub.publish``). Not for
        history namespaces (``broadcast`` numbers their frames, queued at the call too)."""
        if self.resolve(path)[0].history is not None:
            raise ConfigError(f"{path} keeps history: use `broadcast(...)`, which numbers its frames")
        self.hub.publish(path, type, data, exclude, strict)

    async def position(self, path: str) -> Position:
        """``{offset, epoch}`` of ``path``'s history now, from the broker. Read it *before*
        a snapshot and give both to the page: connecting with ``?since=offset&epoch=epoch``
        it gets every frame after the snapshot, and none twice."""
        pattern, _, canonical = self.resolve(path)
        if pattern.history is None:
            raise ConfigError(f"{pattern.pattern} keeps no history: declare it with history=...")
        return await self.hub.position(pattern.history, canonical)

    async def presence(self, path: str) -> dict[str, Any]:
        """Who is in ``path``'s namespace, on every instance (client id → public identity),
        whether this instance hosts it or not (a REST handler, say)."""
        pattern, _, canonical = self.resolve(path)
        if not pattern.tracks_presence:
            raise ConfigError(f"{pattern.pattern} tracks no presence: declare it with presence=True")
        return await self.hub.presence(canonical)

    async def occupancy(self, path: str) -> dict[str, int]:
        """``{"connections": n, "users": m}`` in ``path``'s namespace over every instance,
        any pattern, without listing anyone (``users``: distinct ``Identity.user``; anonymous
        connections count only as connections). A dead instance's connections count until it
        is swept: within ``WSNS_PRESENCE_TTL`` of its kill."""
        return await self.hub.occupancy.count(self.hub.channel(self.resolve(path)[2]))

    async def online(self, users: Iterable[str | int]) -> dict[str | int, dict[str, Any]]:
        """``{user: {"online": bool, "last_seen": unix s | None}}`` for ``Identity.user``
        values: online while a connection of the user is open on any instance in any
        namespace (a dead instance's users go offline within ``WSNS_PRESENCE_TTL`` of its
        kill, two thirds of it after its last refresh); else
        when it was last seen (``None``: not within ``WSNS_LAST_SEEN_TTL``)."""
        return await self.hub.occupancy.online(users)

    async def remove_namespace(self, path: str, code: int = CloseCode.REMOVED,
                               reason: str = "namespace removed", *, everywhere: bool = True) -> None:
        """Close the namespace's clients with ``code`` and drop it — on every instance
        unless ``everywhere=False``. The next authorized connect re-creates it."""
        await self.hub.remove_namespace(self.resolve(path)[2], code, reason, everywhere=everywhere)

    @must_await("wsns.disconnect")
    async def disconnect(self, *, user: str | int, code: int = CloseCode.UNAUTHENTICATED,
                         reason: str = "disconnected") -> None:
        """Close every connection of ``user`` (what ``authorize`` gave as ``Identity.user``)
        on every instance, with one broker message: a sign-out, a revoked account. The
        default 4401 stops the clients for good; 4001 makes them reconnect with a fresh
        token. Raises ``BrokerUnavailable`` (after this instance's closes) when the broker
        could not carry it to the others."""
        self.hub.disconnect(user, code, reason)

    def authorize_stats(self, fn: Hook) -> Hook:
        """Guard the stats route: ``fn(request)`` returns a true answer to allow; ``False``,
        ``None`` or any false answer refuses with 403 (a guard that falls off its end stays
        shut), as does raising ``Forbidden``; ``Unauthorized`` is 401. ``False`` refuses here
        as in ``authorize``; ``None`` does not admit here, since a guard has no "anonymous"
        to admit. Without a guard the route answers 403."""
        self._stats_authorizer = fn
        return fn

    def stats(self) -> dict[str, Any]:
        """Instance id, broker health, totals and per-namespace counters."""
        return self.hub.stats()

    def track_outbox(self, relay: OutboxStats) -> None:
        """Export ``relay.stats()`` as the ``wsns_outbox_*`` metrics (``run_relay`` does it
        for the relay it runs)."""
        self._outbox_relays.append(relay)

    def _snapshot(self) -> Snapshot:
        """The hub's counts and the outbox relays': what the metrics export."""
        snapshot = self.hub.snapshot()
        snapshot.outbox = outbox_totals(self._outbox_relays)
        return snapshot

    async def _stats_route(self, request: Request) -> HTTPResponse:
        if self._stats_authorizer is None:
            return json({"error": "forbidden", "message": "no stats authorizer"}, status=403)
        try:
            allowed = await call(self._stats_authorizer, request)
        except Denied as exc:
            status = {CloseCode.UNAUTHENTICATED: 401, CloseCode.NOT_FOUND: 404}.get(exc.close_code, 403)
            return json({"error": exc.code, "message": exc.message}, status=status)
        if not allowed:
            return json({"error": "forbidden", "message": "not allowed"}, status=403)
        return json(self.stats())

    # -- listeners --------------------------------------------------------------------------

    def _share_metrics(self, app: Sanic[Any, Any]) -> None:
        """Sanic's main process: several workers count into one shared, wiped folder."""
        if app.state.workers > 1:
            prepare_multiprocess()

    async def _metrics_route(self, request: Request) -> HTTPResponse:
        if self._metrics is None:
            return HTTPResponse("metrics start with the server\n", status=503)
        return raw(self._metrics.render(), content_type=METRICS_CONTENT_TYPE)

    def _refuse_split_workers(self, app: Sanic[Any, Any]) -> None:
        """Sanic's main process, before it starts the workers (``--workers N``, ``--fast``,
        ``app.run(workers=N)``): each worker is a process of its own, and ``memory://`` joins
        nothing across processes, so clients on different workers would silently miss each
        other's broadcasts. Refuse to start, with the fix in one line."""
        workers = app.state.workers
        if workers > 1 and parse_broker_url(self.settings.broker).backend == "memory":
            sys.exit(f"sanic-wsns: {workers} workers cannot share the memory:// broker (each worker "
                     f"would see only its own clients); set a Redis broker, e.g. "
                     f"SANIC_WSNS_BROKER=redis://127.0.0.1:6379/0, or run one worker.")

    def _refuse_unresolved_types(self, app: Sanic[Any, Any]) -> None:
        """Sanic's main process: a handler's ``data`` type that names nothing defined stops
        the server with one line and status 1. Raised in a worker instead, it would only
        make Sanic's main process report "Not all workers acknowledged" and hang."""
        try:
            for pattern in self.patterns:
                pattern.resolve()
        except ConfigError as exc:
            sys.exit(f"sanic-wsns: {exc}")

    async def _start(self, app: Sanic[Any, Any]) -> None:
        follow_sanic_logging()  # now: the app's module has run, with any logging set-up of its own
        for pattern in self.patterns:
            pattern.resolve()  # a server started without Sanic's main process (create_server)
        hub = self.hub
        # As Sanic: ping when an interval is set; without a timeout a ping never expires.
        interval, timeout = app.config.WEBSOCKET_PING_INTERVAL, app.config.WEBSOCKET_PING_TIMEOUT
        # A stream Sanic has sent nothing on for RESPONSE_TIMEOUT is cut: ping well before.
        self._sse_ping = min(float(interval or 0) or DEFAULT_PING, app.config.RESPONSE_TIMEOUT / 2)
        if self.settings.metrics_url:
            self._metrics = Metrics(self._snapshot, (p.pattern for p in self.patterns))
        await hub.start(float(interval or 0), self._metrics)
        if self.settings.sse_prefix and not self.settings.sse_secret:
            await self._agree_on_sse_secret(hub.broker)
        if self._metrics is not None:
            self._metrics.start()
        if interval:
            self._keepalive = KeepaliveSweep(interval, timeout or math.inf, hub.clients)
            self._keepalive.start()
        logger.info("sanic-wsns started instance=%s broker=%s patterns=%s", hub.instance_id,
                    redact(self.settings.broker), [p.pattern for p in self.patterns])

    async def _agree_on_sse_secret(self, broker: Broker) -> None:
        """No ``WSNS_SSE_SECRET``: the instances on one broker sign with one secret all the
        same (the first to start stores its own), so a POST may reach any of them from the
        first try. One round trip at start, nothing per request."""
        key = self.settings.channel_prefix + SSE_SECRET_KEY
        try:
            secret = await broker.shared_secret(key, secrets.token_bytes(32))
        except BrokerUnavailable as exc:
            logger.warning("WSNS_SSE_SECRET is not set and no secret could be shared through the "
                           "broker (%s): until a restart, an SSE client's POSTs are accepted only by "
                           "this instance when it holds their stream", exc)
            return
        self._client_tokens = ClientTokens(secret)

    async def _close_clients(self, app: Sanic[Any, Any]) -> None:
        if self._keepalive is not None:
            self._keepalive.stop()
        await self.hub.close_clients(CloseCode.GOING_AWAY, "server shutting down",
                                     self.settings.shutdown_timeout)

    async def _stop(self, app: Sanic[Any, Any]) -> None:
        await self.hub.stop()
        if self._metrics is not None:
            await self._metrics.stop()
            self._metrics = None


def _add_package_file(app: Sanic[Any, Any], url: str, resource: str, content_type: str, name: str) -> None:
    """Serve one file shipped in the package at ``url`` (ETag, revalidated on each use)."""
    source = resources.files("sanic_wsns").joinpath(resource)
    if not source.is_file():
        logger.warning("%s not found in the package; %s is not served", resource, url)
        return
    body = source.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}

    async def package_file(request: Request) -> HTTPResponse:
        if request.headers.get("if-none-match") == etag:
            return HTTPResponse(status=304, headers=headers)
        return raw(body, content_type=content_type, headers=headers)

    app.add_route(package_file, url, methods=["GET", "HEAD"], name=name)


def _printable_headers(request: Request) -> None:
    """Replace what is not printable ASCII in the upgrade's header values with ``?``.

    The handshake (websockets' ``Headers``) refuses such a value with an exception Sanic
    turns into HTTP 500, before any hook runs; a client must not get a 5xx for its input.
    Mangled, a cookie or token is simply not valid: the authorize hook refuses it as usual.
    """
    headers = request.headers
    if all(value.isascii() and value.isprintable() for value in headers.values()):
        return
    request.headers = Header(
        (name, "".join(c if c.isascii() and c.isprintable() else "?" for c in value))
        for name, value in headers.items())


#: Reads the token of a request into ``request.ctx.wsns_token`` (``MalformedToken``: refused).
TokenReader = Callable[[Request], None]


def _take_bearer(request: Request) -> None:
    """SSE and POST: the token of ``Authorization: Bearer <token>`` (a browser's
    ``EventSource`` sends none; cookies then), handed to ``authorize`` as
    ``request.ctx.wsns_token``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        request.ctx.wsns_token = None
        return
    if not token.strip():
        raise MalformedToken("empty bearer token")
    request.ctx.wsns_token = token.strip()


def _take_token(request: Request) -> None:
    """Hand the token offered in ``Sec-WebSocket-Protocol`` to ``authorize`` as
    ``request.ctx.wsns_token`` (``None`` without one) and take it out of the request's
    headers, so nothing that logs or echoes headers later can leak it. ``MalformedToken``
    for a token subprotocol that does not decode."""
    values = request.headers.getall("sec-websocket-protocol", [])
    offer = read_offer(values)
    request.ctx.wsns_token = offer.token
    if offer.token is None:
        return
    kept = [(name, value) for name, value in request.headers.items()
            if name.lower() != "sec-websocket-protocol"]
    if offer.rest is not None:
        kept.append(("sec-websocket-protocol", offer.rest))
    request.headers = Header(kept)


#: Characters of a client-sent header value a log line keeps.
LOGGED_HEADER_LENGTH = 100


def _loggable(value: str | None) -> str:
    """A header value as one log line can hold it: quoted, escaped, cut (``-``: absent),
    so a refused Origin tells the operator which site it was and forges no line."""
    if value is None:
        return "-"
    cut = value[:LOGGED_HEADER_LENGTH]
    return repr(cut) + ("..." if len(value) > LOGGED_HEADER_LENGTH else "")


def _require_prometheus_client() -> None:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ConfigError("metrics_url needs prometheus_client: pip install 'sanic-wsns[metrics]'") from None


__all__ = ["WsNamespaces"]
