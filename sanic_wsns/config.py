"""Settings: documented defaults, overridable by ``app.config.WSNS_*`` (env ``SANIC_WSNS_*``)
or by keyword arguments to ``WsNamespaces`` (which win: they are written in the code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from .broker.urls import parse_broker_url
from .errors import ConfigError
from .history import MAX_BYTES as HISTORY_MAX_BYTES
from .history import History


class Settings(msgspec.Struct, kw_only=True):
    #: ``memory://`` (one instance) or ``redis://host:port/db`` (many instances).
    broker: str = "memory://"
    #: Prefix of every broker channel name (one channel per namespace path).
    channel_prefix: str = "wsns:"
    #: Largest client frame accepted, in bytes; larger closes the connection with 1009.
    max_frame_size: int = 64 * 1024
    #: Frames one client message may be cut into (continuation frames); more closes the
    #: connection with 1008. The size limit alone let a peer stream 1-byte continuation
    #: frames by the ten thousand, each one parsed.
    max_fragments: int = 64
    #: Token bucket per client: sustained messages per second, and burst size.
    rate_limit: float = 50.0
    rate_burst: int = 100
    #: A client refused more than this many messages within the window is closed with 1008.
    abuse_limit: int = 1000
    abuse_window: float = 10.0
    #: Bytes that may wait in one client's send buffer; beyond, it is closed with 1013.
    max_send_queue: int = 1024 * 1024
    #: Namespaces one instance may host; a connect that would create more is closed with 1013.
    max_namespaces: int = 100_000
    #: WebSocket connections this instance holds at once (``None``: no cap); a connect
    #: over it completes its handshake and is closed with 1013 "too many connections".
    max_connections: int | None = None
    #: The same cap per identity (what the authorize hook returned, or ``Identity.value``;
    #: it must be hashable); clients without an identity are not counted.
    max_connections_per_identity: int | None = None
    #: Connection opens per second per user (``Identity.user``, else the identity), and the
    #: burst: over it an upgrade is closed with 1013 and a retry hint (``None``: no limit).
    #: Per instance. Anonymous clients are not limited.
    connect_rate: float | None = 10.0
    connect_burst: int = 30
    #: Connection opens per second on this instance, whoever opens them, and the burst
    #: (``None``: no limit): over it an upgrade is closed with 1013 and a retry hint. For a
    #: reconnect storm (an instance died and its clients all come here at once): the opens
    #: are spread out instead of taking the CPU from the clients already here.
    open_rate: float | None = None
    open_burst: int = 500
    #: Longest path parameter value, in characters; longer is closed with 1008.
    max_param_length: int = 200
    #: Seconds a dropped namespace keeps its broker subscription, against churn (≤ 2).
    unsubscribe_linger: float = 1.0
    #: Origins allowed to connect; empty means same origin (Origin host:port == Host).
    #: ``"*"`` allows any.
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    #: An upgrade under a pattern's first segment (``/ws/...``) that matches no route
    #: completes its handshake and is closed with 1008 naming the declared patterns (a
    #: browser cannot read a 404: it would retry for ever); ``False`` leaves it a 404.
    close_unmatched: bool = True
    #: Where the browser client is served; empty to not serve it.
    client_url: str = "/wsns/client.js"
    #: Opt-in JSON stats route (guarded by ``@wsns.authorize_stats``); empty to disable.
    stats_url: str = ""
    #: Opt-in Prometheus metrics route (needs the ``metrics`` extra: prometheus_client);
    #: empty to disable. Not guarded: serve it where only Prometheus reaches it.
    metrics_url: str = ""
    #: Use sharded pub/sub (SSUBSCRIBE/SPUBLISH) with a Redis broker.
    redis_sharded: bool = False
    #: Seconds granted to clients to close when the server stops.
    shutdown_timeout: float = 5.0
    #: ``history=True`` on a pattern keeps this many frames per namespace, this many
    #: seconds after its last broadcast (``History(...)`` on the pattern wins).
    history_size: int = 100
    history_ttl: float = 300.0
    #: ... and at most this many bytes of frames per namespace (the newest is always kept).
    history_max_bytes: int = HISTORY_MAX_BYTES
    #: Presence, occupancy and online status: a killed instance's clients leave, its users
    #: go offline and ``on_vacated`` runs within this many seconds of the kill (its writes
    #: live 2/3 of it past a refresh, refreshed and swept every 1/6: ``liveness.py``).
    presence_ttl: float = 60.0
    #: Online status: seconds a user's last-seen time is kept once no instance holds a
    #: connection of it (``wsns.online``); one small Redis key per user seen within it.
    last_seen_ttl: float = 86_400.0
    #: Entries in one ``presence_state`` frame; past it the state is cut, marked truncated.
    presence_state_limit: int = 1000
    #: Seconds a request key is remembered: a repeat of a keyed request within it gets the
    #: first answer and its handler does not run again (on every instance).
    idempotency_window: float = 300.0
    #: Negotiate permessage-deflate with clients that offer it (browsers and websockets
    #: do): a broadcast is compressed once and the same bytes go to every such client.
    compression: bool = False
    #: Frames whose JSON is shorter than this many bytes are sent uncompressed.
    compression_threshold: int = 256
    #: Where each pattern's SSE stream and POST endpoint live: ``GET``/``POST``
    #: ``{sse_prefix}{namespace path}``; empty to serve neither (docs/transports.md).
    sse_prefix: str = "/wsns/sse"
    #: Signs the ``client_token`` a stream's POSTs carry. Every instance must share it for a
    #: POST to be taken by another instance than the stream's; empty: with a Redis broker,
    #: one random secret the instances share through Redis (the first to start stores it);
    #: with ``memory://``, a random secret per process.
    sse_secret: str = ""


def load_settings(app_config: Mapping[str, Any], overrides: Mapping[str, Any]) -> Settings:
    """Merge defaults < ``WSNS_*`` app config < keyword ``overrides`` into checked Settings."""
    known = set(Settings.__struct_fields__)
    merged: dict[str, Any] = {}
    for key, value in app_config.items():
        if key.startswith("WSNS_"):
            name = key[5:].lower()
            if name not in known:
                names = ", ".join(f"WSNS_{k.upper()}" for k in sorted(known))
                raise ConfigError(f"unknown setting {key}; known: {names}")
            merged[name] = value
    for name, value in overrides.items():
        if name not in known:
            raise ConfigError(f"unknown setting {name!r}; known: {', '.join(sorted(known))}")
        merged[name] = value
    if isinstance(merged.get("allowed_origins"), str):
        merged["allowed_origins"] = [o.strip() for o in merged["allowed_origins"].split(",") if o.strip()]
    try:
        settings = msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid sanic-wsns setting: {exc}") from None
    if not 0 <= settings.unsubscribe_linger <= 2:
        raise ConfigError("unsubscribe_linger must be between 0 and 2 seconds")
    for name in ("max_connections", "max_connections_per_identity"):
        cap = getattr(settings, name)
        if cap is not None and cap < 1:
            raise ConfigError(f"{name} must be at least 1, or None for no cap")
    if settings.presence_ttl < 1 or settings.presence_state_limit < 1:
        raise ConfigError("presence_ttl must be at least 1 second and presence_state_limit at least 1")
    # Refuses a history that keeps nothing.
    History(settings.history_size, settings.history_ttl, max_bytes=settings.history_max_bytes)
    if settings.max_fragments < 1:
        raise ConfigError("max_fragments must be at least 1 (a message in one frame)")
    if settings.last_seen_ttl < 1:
        raise ConfigError("last_seen_ttl must be at least 1 second")
    if settings.idempotency_window <= 0:
        raise ConfigError("idempotency_window must be > 0 seconds")
    if settings.rate_limit <= 0 or settings.rate_burst < 1:
        raise ConfigError("rate_limit must be > 0 and rate_burst >= 1")
    if (settings.connect_rate is not None and settings.connect_rate <= 0) or settings.connect_burst < 1:
        raise ConfigError("connect_rate must be > 0 (or None for no limit) and connect_burst >= 1")
    if (settings.open_rate is not None and settings.open_rate <= 0) or settings.open_burst < 1:
        raise ConfigError("open_rate must be > 0 (or None for no limit) and open_burst >= 1")
    if settings.compression_threshold < 0:
        raise ConfigError("compression_threshold must be >= 0 bytes")
    if settings.sse_prefix and (not settings.sse_prefix.startswith("/") or settings.sse_prefix.endswith("/")):
        raise ConfigError("sse_prefix must start with '/' and not end with one (e.g. /wsns/sse), or be empty")
    parse_broker_url(settings.broker)  # a malformed URL fails here, not at server start
    return settings
