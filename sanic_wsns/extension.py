"""``WsNamespaces``: the Sanic extension that wires patterns, namespaces and the broker.

Start here to follow an upgrade: ``_verdict`` (request middleware, before the handshake)
-> ``_route`` (after the handshake) -> ``connection.serve`` -> ``host`` (get-or-create)
-> ``leave``. And a broadcast: ``publish`` writes locally and hands the same bytes to
the broker; ``_on_broker_message`` writes them on the other instances.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import math
import secrets
from collections.abc import Iterable
from importlib import resources
from typing import Any
from urllib.parse import unquote

import msgspec
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json, raw

from .broker import Broker, create_broker, redact
from .client import Client
from .config import Settings, load_settings
from .connection import Admission, Refusal, serve
from .errors import BrokerUnavailable, CloseCode, ConfigError, Denied
from .keepalive import KeepaliveSweep
from .namespace import Counters, Namespace
from .origins import origin_allowed
from .pattern import AnyCallable, Identity, Pattern, call
from .protocol import encode, ws_text_frame
from .registry import OverCapacity, Registry
from .relay import Kind, RelayMessage, decode_relay, encode_relay

logger = logging.getLogger("sanic_wsns")

_REFUSAL_NAMES = {
    CloseCode.UNAUTHENTICATED: "unauthenticated",
    CloseCode.FORBIDDEN: "forbidden",
    CloseCode.NOT_FOUND: "not_found",
    CloseCode.POLICY_VIOLATION: "bad_request",
    CloseCode.INTERNAL_ERROR: "error",
    CloseCode.TRY_AGAIN_LATER: "over_capacity",
}
_UNJUDGED = Refusal(CloseCode.INTERNAL_ERROR, "upgrade was not authorized")


class Limits(msgspec.Struct):
    max_frame_size: int
    rate_limit: float
    rate_burst: int


class Welcome(msgspec.Struct):
    client_id: str
    path: str
    params: dict[str, Any]
    public: Any
    limits: Limits
    heartbeat_interval: float
    protocol: int = 1


class WsNamespaces:
    """One WebSocket namespace per resource.

    Use it as ``wsns = WsNamespaces(app, broker="redis://...")``, or build it without an
    app and hand it to sanic-ext: ``app.extend(extensions=[WsnsExtension(wsns)])``.
    Keyword arguments are settings (see ``Settings``) and win over ``app.config.WSNS_*``.
    """

    def __init__(self, app: Sanic | None = None, **settings: Any):
        self._overrides = settings
        self.patterns: list[Pattern] = []
        self.instance_id = secrets.token_hex(6)
        self._client_ids = itertools.count(1)
        self._broker: Broker | None = None
        self._retired = Counters()
        self._refused: dict[str, int] = {}
        self._accepted = 0
        self._stats_authorizer: AnyCallable | None = None
        self._keepalive: KeepaliveSweep | None = None
        self._app: Sanic | None = None
        self.settings = load_settings({}, settings)
        self.registry: Registry[Namespace] = Registry(
            max_namespaces=self.settings.max_namespaces,
            linger=self.settings.unsubscribe_linger,
            subscribe=lambda channel: self.broker.subscribe(channel),
            unsubscribe=lambda channel: self.broker.unsubscribe(channel),
        )
        if app is not None:
            self.attach(app)

    # -- wiring into Sanic ------------------------------------------------------------------

    def attach(self, app: Sanic) -> None:
        """Register routes, middleware and listeners on ``app`` (done once)."""
        if self._app is not None:
            raise ConfigError("this WsNamespaces is already attached to an app")
        self._app = app
        self.settings = load_settings(app.config, self._overrides)
        self.registry.max_namespaces = self.settings.max_namespaces
        self.registry.linger = self.settings.unsubscribe_linger
        app.ctx.wsns = self
        # Routes are added now, not lazily: a WebSocket route added after Sanic picked its
        # connection protocol fails the upgrade with HTTP 500.
        app.enable_websocket()
        for index, pattern in enumerate(self.patterns):
            self._add_route(pattern, index)
        if self.settings.client_url:
            self._add_client_route(app, self.settings.client_url)
        if self.settings.stats_url:
            app.add_route(self._stats_route, self.settings.stats_url, methods=["GET"],
                          name="wsns_stats")
        app.register_listener(self._start, "before_server_start")
        app.register_listener(self._close_clients, "before_server_stop")
        app.register_listener(self._stop, "after_server_stop")

    @property
    def app(self) -> Sanic:
        if self._app is None:
            raise ConfigError("WsNamespaces is not attached to an app yet")
        return self._app

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            raise ConfigError("the broker starts with the server (before_server_start)")
        return self._broker

    def pattern(self, pattern: str, *, drop_when_empty: bool = True) -> Pattern:
        """Declare a namespace pattern such as ``/api/1/ws/bubblemap/<map_id:int>``."""
        declared = Pattern(self, pattern, drop_when_empty=drop_when_empty)
        self.patterns.append(declared)
        if self._app is not None:
            self._add_route(declared, len(self.patterns) - 1)
        return declared

    def _add_route(self, pattern: Pattern, index: int) -> None:
        app = self.app
        name = f"wsns_pattern_{index}"

        async def authorize_upgrade(request: Request) -> None:
            request.ctx.wsns_verdict = await self._verdict(pattern, request)

        async def route(request: Request, ws: Any, **_params: Any) -> None:
            verdict = getattr(request.ctx, "wsns_verdict", _UNJUDGED)
            if isinstance(verdict, Refusal):
                await ws.close(verdict.code, verdict.reason)
                return
            self._accepted += 1
            await serve(self, request, ws, verdict, f"{self.instance_id}-{next(self._client_ids):x}")

        app.add_websocket_route(route, pattern.pattern, name=name)
        app.register_named_middleware(authorize_upgrade, [f"{app.name}.{name}"], "request")

    def _add_client_route(self, app: Sanic, url: str) -> None:
        source = resources.files("sanic_wsns").joinpath("static/wsns.js")
        if not source.is_file():
            logger.warning("browser client not found in the package; %s is not served", url)
            return
        body = source.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}

        async def client_js(request: Request) -> HTTPResponse:
            if request.headers.get("if-none-match") == etag:
                return HTTPResponse(status=304, headers=headers)
            return raw(body, content_type="text/javascript; charset=utf-8", headers=headers)

        app.add_route(client_js, url, methods=["GET"], name="wsns_client_js")

    # -- admission --------------------------------------------------------------------------

    async def _verdict(self, pattern: Pattern, request: Request) -> Admission | Refusal:
        """Decide an upgrade before its handshake: origin, params, the app's hook."""
        verdict = await self._judge(pattern, request)
        if isinstance(verdict, Refusal):
            name = _REFUSAL_NAMES.get(verdict.code, str(verdict.code))
            self._refused[name] = self._refused.get(name, 0) + 1
            logger.info("upgrade refused path=%s code=%d reason=%s",
                        request.path, verdict.code, verdict.reason)
        return verdict

    async def _judge(self, pattern: Pattern, request: Request) -> Admission | Refusal:
        if not origin_allowed(request.headers.get("origin"), request.headers.get("host"),
                              self.settings.allowed_origins):
            return Refusal(CloseCode.FORBIDDEN, "origin not allowed")
        # Sanic hands str params over still percent-encoded; the canonical path (and the
        # broker channel) encodes the decoded value once, as broadcast(params) does.
        params = {k: unquote(v) if isinstance(v, str) else v for k, v in request.match_info.items()}
        if any(len(str(v)) > self.settings.max_param_length for v in params.values()):
            return Refusal(CloseCode.POLICY_VIOLATION, "path parameter too long")
        try:
            path = pattern.path(params)
        except ValueError:
            return Refusal(CloseCode.POLICY_VIOLATION, "invalid path parameter")
        if pattern.authorizer is None:
            return Admission(pattern, path, params, None, None)
        try:
            identity = await call(pattern.authorizer, request, **params)
        except Denied as exc:
            return Refusal(exc.close_code, exc.message)
        except Exception:
            logger.exception("authorize hook failed path=%s", path)
            return Refusal(CloseCode.INTERNAL_ERROR, "internal error")
        if isinstance(identity, Identity):
            return Admission(pattern, path, params, identity.value, identity.public)
        return Admission(pattern, path, params, identity, None)

    # -- hosting ----------------------------------------------------------------------------

    def channel(self, path: str) -> str:
        return self.settings.channel_prefix + path

    async def host(self, pattern: Pattern, path: str, params: dict[str, Any]) -> Namespace | None:
        """Get or create the namespace for ``path``; ``None`` when over capacity."""
        existing = self.registry.get(path)
        if existing is not None:
            return existing
        try:
            namespace = await self.registry.get_or_create(
                path, self.channel(path), lambda: Namespace(self, pattern, path, params))
        except OverCapacity:
            self._refused["over_capacity"] = self._refused.get("over_capacity", 0) + 1
            logger.warning("namespace refused, instance at capacity path=%s", path)
            return None
        logger.debug("namespace hosted path=%s", path)
        return namespace

    def welcome(self, ns: Namespace, client: Client) -> bytes:
        s = self.settings
        return encode("welcome", Welcome(
            client_id=client.id, path=ns.path, params=ns.params, public=client.public,
            limits=Limits(s.max_frame_size, s.rate_limit, s.rate_burst),
            heartbeat_interval=float(self.app.config.WEBSOCKET_PING_INTERVAL or 0),
        ))

    async def leave(self, ns: Namespace, client: Client) -> None:
        """A client's connection ended: forget it, tell the app, drop the namespace if empty."""
        ns.clients.pop(client.id, None)
        for hook in ns.pattern.disconnect_hooks:
            try:
                await call(hook, ns, client)
            except Exception:
                logger.exception("on_disconnect failed path=%s client=%s", ns.path, client.id)
        if not ns.clients and ns.pattern.drop_when_empty and self.registry.get(ns.path) is ns:
            await self._drop(ns)

    async def _drop(self, ns: Namespace) -> None:
        self.registry.drop(ns.path, self.channel(ns.path))
        self._retired.merge(ns.counters)
        logger.debug("namespace dropped path=%s", ns.path)
        for hook in ns.pattern.empty_hooks:
            try:
                await call(hook, ns)
            except Exception:
                logger.exception("on_empty failed path=%s", ns.path)

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
        return self.registry.get(self.resolve(path)[2])

    def has(self, path: str) -> bool:
        return self.get(path) is not None

    async def create_namespace(self, path: str) -> Namespace:
        """Host ``path``'s namespace now, before any client (no authorize hook runs)."""
        pattern, params, canonical = self.resolve(path)
        namespace = await self.host(pattern, canonical, params)
        if namespace is None:
            raise OverCapacity(f"cannot host {canonical}: instance at capacity")
        return namespace

    async def broadcast(self, path: str, type: str, data: Any = None, *,
                        exclude: Client | str | Iterable[Client | str] | None = None,
                        strict: bool = False) -> None:
        """Send ``{type, data}`` to every client of ``path`` on every instance; works on an
        instance that hosts no such namespace (a REST handler, say)."""
        self.publish(self.resolve(path)[2], type, data, exclude, strict)

    def publish(self, path: str, type: str, data: Any = None,
                exclude: Client | str | Iterable[Client | str] | None = None,
                strict: bool = False) -> None:
        """Encode once, write to local clients, relay the same bytes (``path`` canonical).

        A broker failure is counted and logged by the broker; with ``strict`` it also
        raises ``BrokerUnavailable`` (after the local clients got the frame).
        """
        frame = ws_text_frame(encode(type, data))
        excluded = _client_ids(exclude)
        namespace = self.registry.get(path)
        if namespace is not None:
            namespace.deliver(frame, excluded)
        relayed = self.broker.publish(self.channel(path), encode_relay(
            RelayMessage(self.instance_id, Kind.FRAME, frame, excluded)))
        if strict and not relayed:
            raise BrokerUnavailable(f"broadcast to {path} reached this instance only: no broker")

    async def remove_namespace(self, path: str, code: int = CloseCode.REMOVED,
                               reason: str = "namespace removed", *, everywhere: bool = True) -> None:
        """Close the namespace's clients with ``code`` and drop it — on every instance
        unless ``everywhere=False``. The next authorized connect re-creates it."""
        canonical = self.resolve(path)[2]
        if everywhere:
            self.broker.publish(self.channel(canonical), encode_relay(
                RelayMessage(self.instance_id, Kind.REMOVE, code=code, reason=reason)))
        await self._close_local(canonical, code, reason)

    async def _close_local(self, path: str, code: int, reason: str) -> None:
        namespace = self.registry.get(path)
        if namespace is None:
            return
        await self._drop(namespace)
        clients = list(namespace.clients.values())
        await asyncio.gather(*(c.close(code, reason) for c in clients), return_exceptions=True)

    def authorize_stats(self, fn: AnyCallable) -> AnyCallable:
        """Guard the stats route: ``fn(request)`` returns truthy to allow, or raises
        ``Unauthorized``/``Forbidden``. Without a guard the route answers 403."""
        self._stats_authorizer = fn
        return fn

    def stats(self) -> dict[str, Any]:
        """Instance id, broker health, totals and per-namespace counters."""
        namespaces = {ns.path: ns.stats() for ns in self.registry}
        counted = Counters()
        counted.merge(self._retired)
        for ns in self.registry:
            counted.merge(ns.counters)
        broker = self._broker.stats() if self._broker else {"connected": False}
        return {
            "instance": self.instance_id,
            "broker": broker,
            "totals": {
                "namespaces": len(self.registry),
                "clients": sum(s["clients"] for s in namespaces.values()),
                "subscriptions": len(self.registry.channels),
                "namespaces_created": self.registry.created,
                "namespaces_dropped": self.registry.dropped,
                "connections_accepted": self._accepted,
                "connections_refused": dict(self._refused),
                "messages_in": counted.messages_in,
                "messages_out": counted.messages_out,
                "dropped": counted.dropped,
            },
            "namespaces": namespaces,
        }

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

    # -- broker -----------------------------------------------------------------------------

    def _on_broker_message(self, channel: str, payload: bytes) -> None:
        try:
            message = decode_relay(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            logger.warning("ignored an undecodable broker message channel=%s", channel)
            return
        if message.origin == self.instance_id:
            return  # delivered locally when it was published
        path = channel[len(self.settings.channel_prefix):]
        namespace = self.registry.get(path)
        if namespace is None:
            return
        if message.kind is Kind.FRAME:
            namespace.deliver(message.frame, message.exclude)
        elif message.kind is Kind.REMOVE:
            asyncio.get_running_loop().create_task(self._close_local(path, message.code, message.reason))

    def _on_broker_restored(self, channels: Iterable[str]) -> None:
        """Clients may have missed messages while the broker was away: tell them."""
        frame = ws_text_frame(encode("resync", {"reason": "broker reconnected"}))
        prefix = len(self.settings.channel_prefix)
        for channel in channels:
            namespace = self.registry.get(channel[prefix:])
            if namespace is not None:
                namespace.deliver(frame)

    # -- listeners --------------------------------------------------------------------------

    async def _start(self, app: Sanic) -> None:
        settings = self.settings
        self._broker = create_broker(settings.broker, self._on_broker_message,
                                     self._on_broker_restored, sharded=settings.redis_sharded)
        await self._broker.connect()
        # As Sanic: ping when an interval is set; without a timeout a ping never expires.
        interval, timeout = app.config.WEBSOCKET_PING_INTERVAL, app.config.WEBSOCKET_PING_TIMEOUT
        if interval:
            self._keepalive = KeepaliveSweep(interval, timeout or math.inf, self._clients)
            self._keepalive.start()
        if app.state.workers > 1 and self._broker.scheme == "memory":
            logger.error(
                "sanic-wsns: %d workers with the memory:// broker split every namespace per "
                "worker; clients on different workers will NOT see each other's messages. "
                "Use a redis:// broker (WSNS_BROKER) or a single worker.", app.state.workers)
        logger.info("sanic-wsns started instance=%s broker=%s patterns=%s", self.instance_id,
                    redact(settings.broker), [p.pattern for p in self.patterns])

    def _clients(self) -> Iterable[Client]:
        return [client for ns in self.registry for client in ns.clients.values()]

    async def _close_clients(self, app: Sanic) -> None:
        if self._keepalive is not None:
            self._keepalive.stop()
        clients = self._clients()
        if clients:
            closing = asyncio.gather(*(c.close(CloseCode.GOING_AWAY, "server shutting down")
                                       for c in clients), return_exceptions=True)
            try:
                await asyncio.wait_for(closing, self.settings.shutdown_timeout)
            except TimeoutError:
                logger.warning("some clients did not close within %.1fs", self.settings.shutdown_timeout)

    async def _stop(self, app: Sanic) -> None:
        await self.registry.close()
        if self._broker is not None:
            await self._broker.disconnect()


def _client_ids(exclude: Client | str | Iterable[Client | str] | None) -> tuple[str, ...]:
    if exclude is None:
        return ()
    if isinstance(exclude, (Client, str)):
        exclude = (exclude,)
    return tuple(c.id if isinstance(c, Client) else c for c in exclude)


__all__ = ["WsNamespaces", "Settings"]
