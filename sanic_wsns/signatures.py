"""Mistakes in a hook's or handler's signature, caught when the decorator runs.

A handler written ``async def say(client, data: Say)`` (the namespace forgotten) would
otherwise be called with the namespace as ``client`` and the client as ``data``, skip
validation and answer "ok"; an ``authorize(request, id)`` on a ``<room_id:int>`` pattern
would fail at every connect with 1011, which the browser client retries for ever. Each
check here raises one ``ConfigError`` line: the function, what was expected, what was
found.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from .errors import ConfigError

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _describe(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__qualname__', repr(fn))}{inspect.signature(fn)}"


def _positional(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    params = inspect.signature(fn).parameters.values()
    return [p for p in params if p.kind in _POSITIONAL]


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # an annotation that cannot be resolved is checked where it is used
        return {}


def check_hook(fn: Callable[..., Any], decorator: str, expected: tuple[str, ...]) -> None:
    """``on_connect``/``on_disconnect`` take ``(ns, client)``, ``on_empty`` takes ``(ns)``."""
    found = _positional(fn)
    if len(found) != len(expected) or len(found) != len(inspect.signature(fn).parameters):
        raise ConfigError(f"@{decorator} {_describe(fn)}: expected ({', '.join(expected)})")


def check_handler(fn: Callable[..., Any], type: str) -> tuple[bool, Any]:
    """``on(type)`` handlers take ``(ns, client)`` or ``(ns, client, data: T)``; whether
    it takes data, and the type ``data`` is decoded into (msgspec must be able to)."""
    found = _positional(fn)
    where = f"@on({type!r}) {_describe(fn)}"
    if len(found) not in (2, 3) or len(found) != len(inspect.signature(fn).parameters):
        raise ConfigError(f"{where}: expected (ns, client) or (ns, client, data: T)")
    hints = _hints(fn)
    if len(found) == 2:
        second = found[1]
        annotated = hints.get(second.name)
        if second.name == "data" or (annotated is not None and not _is_client(annotated)):
            raise ConfigError(f"{where}: the namespace comes first: expected (ns, client, data: T)")
        return False, Any
    data_type = hints.get(found[2].name, Any)
    try:
        msgspec.json.Decoder(data_type)
    except TypeError as exc:
        raise ConfigError(f"{where}: msgspec cannot decode data into {data_type!r} ({exc})") from None
    return True, data_type


def check_authorizer(fn: Callable[..., Any], pattern: str, names: Iterable[str]) -> None:
    """``authorize`` takes ``(request, **params)``: the pattern's parameter names, or
    ``**kwargs``."""
    params = list(inspect.signature(fn).parameters.values())
    expected = ", ".join(["request", *names])
    where = f"@authorize {_describe(fn)} on {pattern}"
    if not params or params[0].kind not in _POSITIONAL:
        raise ConfigError(f"{where}: expected ({expected})")
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    given = {p.name for p in params[1:] if p.kind is not inspect.Parameter.VAR_KEYWORD}
    wanted = set(names)
    missing = sorted(wanted - given) if not takes_any else []
    unknown = sorted(p.name for p in params[1:] if p.name in given - wanted and p.default is p.empty)
    if missing or unknown:
        found = f"; it takes {', '.join(unknown)}" if unknown else ""
        raise ConfigError(f"{where}: expected ({expected}){found}")


def _is_client(annotation: Any) -> bool:
    name = getattr(annotation, "__name__", str(annotation))
    return annotation is Any or name.endswith("Client") or isinstance(annotation, str)
