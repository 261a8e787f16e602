"""A declared namespace pattern: its path template, its hooks and its message handlers.

A ``Pattern`` is the template all namespaces of one kind share (Phoenix's channel
module); the live ``Namespace`` objects are created from it per resource.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from .errors import ConfigError
from .paths import PathTemplate
from .protocol import PING, REFRESH, RESERVED_SERVER_TYPES
from .signatures import DataAnnotation, check_authorizer, check_handler, check_hook, data_type

if TYPE_CHECKING:
    from .broadcast_handle import Broadcast
    from .history import History
    from .interfaces import Exclude, Publisher

AnyCallable = Callable[..., Any]
#: A decorated hook or handler: the decorators hand it back with its own type.
Hook = TypeVar("Hook", bound=AnyCallable)


async def call(fn: AnyCallable, *args: Any, **kwargs: Any) -> Any:
    """Call a hook that may be sync or async, and await it if it returned an awaitable."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class Identity(msgspec.Struct, frozen=True):
    """What an authorize hook may return to give a client a ``public`` face.

    ``value`` becomes ``client.identity`` (server-side only, never sent to anyone);
    ``public`` becomes ``client.public``: in the client's own ``welcome`` and in
    ``ns.members()``. ``user`` names the person behind the connection when ``value`` is
    finer (a session, a device): ``max_connections_per_identity`` counts by ``user``, else
    by ``value``. Returning anything else is the same as ``Identity(value=it)``.

    ``expires_at`` (unix seconds) is when the connection's grant ends, usually its
    token's expiry: the client is told ``welcome.data.expires_in``, and unless a
    ``refresh`` moves it, the connection is closed with 4001 ``expired`` then.
    """

    value: Any = None
    public: Any = None
    user: Any = None
    expires_at: float | None = None


class Handler:
    """A message handler with the decoder for its annotated ``data`` type."""

    __slots__ = ("fn", "takes_data", "_data_type", "_decode")

    def __init__(self, fn: AnyCallable, type: str):
        self.fn = fn
        self.takes_data, self._data_type = check_handler(fn, type)
        self._decode: Callable[[Any], Any] | None = None
        if not isinstance(self._data_type, DataAnnotation):
            self._decode = msgspec.json.Decoder(self._data_type).decode

    def resolve(self) -> None:
        """Resolve a ``data`` annotation that named nothing defined at decoration (a class
        further down the module), when the server starts; ``ConfigError`` if it still
        cannot be, so validation is never silently off."""
        if self._decode is None:
            self._data_type = data_type(self._data_type)
            self._decode = msgspec.json.Decoder(self._data_type).decode

    def decode(self, payload: Any) -> Any:
        if self._decode is None:
            self.resolve()  # a server started without the extension's listeners: raises or resolves
        assert self._decode is not None
        return self._decode(payload)


class Pattern:
    """Namespaces sharing one path template, e.g. ``/api/1/ws/bubblemap/<map_id:int>``."""

    def __init__(self, publisher: Callable[[], Publisher], pattern: str, *,
                 drop_when_empty: bool = True, history: History | None = None,
                 presence: bool = False):
        """``publisher()`` is the hub broadcasts go through: asked at each call, since a
        pattern may be declared before its app is known, and the hub is built from the
        app's settings when it is (``WsNamespaces.attach``)."""
        self.template = PathTemplate(pattern)
        self.drop_when_empty = drop_when_empty
        #: Kept frames and offsets (recovery), or ``None``: see ``History``.
        self.history = history
        #: Whether clients see who else is in the namespace (``presence_state``/``_diff``);
        #: ``presence(params)`` asks who is.
        self.tracks_presence = presence
        self.handlers: dict[str, Handler] = {}
        self.authorizer: AnyCallable | None = None
        self.refresher: AnyCallable | None = None
        self.connect_hooks: list[AnyCallable] = []
        self.disconnect_hooks: list[AnyCallable] = []
        self.empty_hooks: list[AnyCallable] = []
        self.occupied_hooks: list[AnyCallable] = []
        self.vacated_hooks: list[AnyCallable] = []
        self._publisher = publisher

    @property
    def pattern(self) -> str:
        return self.template.pattern

    # -- declaration (decorators) -------------------------------------------------------

    def authorize(self, fn: Hook) -> Hook:
        """``fn(request, **params)`` (sync or async) runs before the handshake completes.
        Return the client's identity (or an ``Identity``), or ``None`` to admit it with no
        identity; return ``False`` or raise ``Forbidden`` to refuse with 4403, raise
        ``Unauthorized`` or ``NotFound`` for 4401/4404. A refused client creates no
        namespace."""
        check_authorizer(fn, self.pattern, self.template.names)
        self.authorizer = fn
        return fn

    def refresh(self, fn: Hook) -> Hook:
        """``fn(request, **params)`` judges a ``refresh`` request, with
        ``request.ctx.wsns_token`` replaced by the new token; it answers as ``authorize``
        does (an ``Identity`` whose ``expires_at`` is the new expiry). Without it,
        ``authorize`` itself runs again. A refusal, or an answer naming another user,
        closes the connection with 4001 (the client reconnects once with a fresh token)."""
        check_authorizer(fn, self.pattern, self.template.names)
        self.refresher = fn
        return fn

    def on_connect(self, fn: Hook) -> Hook:
        """``fn(ns, client)`` after ``welcome``; raising ``Denied`` closes with its code."""
        check_hook(fn, "on_connect", ("ns", "client"))
        self.connect_hooks.append(fn)
        return fn

    def on_disconnect(self, fn: Hook) -> Hook:
        """``fn(ns, client)`` after the client left (it no longer counts in ``ns``)."""
        check_hook(fn, "on_disconnect", ("ns", "client"))
        self.disconnect_hooks.append(fn)
        return fn

    def on_empty(self, fn: Hook) -> Hook:
        """``fn(ns)`` when the last client left and the namespace is dropped."""
        check_hook(fn, "on_empty", ("ns",))
        self.empty_hooks.append(fn)
        return fn

    def on_occupied(self, fn: Hook) -> Hook:
        """``fn(path, params)`` once per deployment when a namespace of this pattern gains
        its first client on any instance (not once per instance: the broker's atomic write
        tells exactly one instance, which runs it). Params are typed as in ``authorize``."""
        check_hook(fn, "on_occupied", ("path", "params"))
        self.occupied_hooks.append(fn)
        return fn

    def on_vacated(self, fn: Hook) -> Hook:
        """``fn(path, params)`` once per deployment when a namespace of this pattern loses
        its last client everywhere; also when that client's instance died (then run by the
        instance that sweeps it, within ``WSNS_PRESENCE_TTL`` of the kill)."""
        check_hook(fn, "on_vacated", ("path", "params"))
        self.vacated_hooks.append(fn)
        return fn

    def on(self, type: str) -> Callable[[Hook], Hook]:
        """Register ``fn(ns, client, data)`` for messages of ``type``. ``data`` is decoded
        into the annotation of the third parameter (a msgspec Struct, say); a frame with
        an ``id`` is answered with the return value."""
        if not isinstance(type, str):
            name = getattr(type, "__name__", "handler")
            raise ConfigError(f"@on {name} on {self.pattern}: the message type is missing: "
                              f"write @pattern.on(\"type\") above it, not @pattern.on")
        if type in RESERVED_SERVER_TYPES or type in (PING, REFRESH):
            raise ConfigError(f"{type!r} is a reserved message type")
        if type in self.handlers:
            raise ConfigError(f"{self.pattern} already has a handler for {type!r}")

        def register(fn: Hook) -> Hook:
            self.handlers[type] = Handler(fn, type)
            return fn

        return register

    def resolve(self) -> None:
        """Resolve every handler's ``data`` annotation (at server start at the latest)."""
        for handler in self.handlers.values():
            handler.resolve()

    # -- use ------------------------------------------------------------------------------

    def path(self, params: Mapping[str, Any]) -> str:
        """The canonical path of the namespace for ``params``."""
        return self.template.format(params)

    def broadcast(self, params: Mapping[str, Any], type: str, data: Any = None, *,
                  exclude: Exclude = None, strict: bool = False,
                  confirm: bool = False, key: str | None = None) -> Broadcast:
        """Broadcast to the namespace for ``params`` on every instance, hosted here or not:
        queued at the call (``strict``, ``confirm``, ``key`` and what awaiting the returned
        ``Broadcast`` gives: see ``Namespace.broadcast``)."""
        return self._publisher().broadcast(self.history, self.path(params), type, data, exclude,
                                           strict=strict, confirm=confirm, key=key)

    async def presence(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Who is in the namespace for ``params``, on every instance: client id → public."""
        return await self._publisher().presence(self.path(params))

    def __repr__(self) -> str:
        return f"<Pattern {self.pattern}>"
