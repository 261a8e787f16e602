"""Mistakes in a hook's or handler's signature, caught when the decorator runs.

A handler written ``async def say(client, data: Say)`` (the namespace forgotten) would
otherwise be called with the namespace as ``client`` and the client as ``data``, skip
validation and answer "ok"; an ``authorize(request, id)`` on a ``<room_id:int>`` pattern
would fail at every connect with 1011, which the browser client retries for ever. Each
check here raises one ``ConfigError`` line: the function, what was expected, what was
found. A ``data`` type that names nothing defined yet cannot be judged at decoration: it is
refused when the server starts (``Pattern.resolve``) if it still names nothing, so that
validation is never silently off.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

import msgspec

from .errors import ConfigError

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _describe(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__qualname__', repr(fn))}{inspect.signature(fn)}"


def _positional(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    params = inspect.signature(fn).parameters.values()
    return [p for p in params if p.kind in _POSITIONAL]


def _named_like(annotation: Any, suffix: str) -> bool:
    """Whether an annotation (a type or its text) may stand for a ``Namespace``/``Client``:
    none, ``Any``, or a name ending in ``suffix``. Only a clear mismatch is refused."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    name = name.strip("'\" ").split("[")[0].rpartition(".")[2]
    return name in ("", "Any", "object") or name.endswith(suffix)


class DataAnnotation:
    """A handler's ``data`` annotation, resolved against the handler's module. One that
    names nothing defined yet is kept and resolved again when the server starts (a class
    defined further down the module), or refused then."""

    __slots__ = ("where", "param", "globals")

    def __init__(self, where: str, param: inspect.Parameter, fn: Callable[..., Any]):
        self.where = where
        self.param = param
        self.globals: dict[str, Any] = getattr(inspect.unwrap(fn), "__globals__", {})

    def resolve(self) -> Any:
        """The annotation as a type; ``NameError`` (or another error) when it cannot be."""
        holder = SimpleNamespace(__annotations__={self.param.name: self.param.annotation})
        return typing.get_type_hints(holder, globalns=self.globals, include_extras=True)[self.param.name]

    def error(self, exc: Exception) -> ConfigError:
        return ConfigError(
            f"{self.where}: cannot resolve the annotation {self.param.name}: {self.param.annotation!s} "
            f"({exc}); without it data would not be validated. Define or import that type at "
            f"module level, at run time (not only under `if TYPE_CHECKING:`)")


def data_type(annotation: DataAnnotation) -> Any:
    """Resolve a ``data`` annotation now, or raise the ``ConfigError`` that names it;
    msgspec must be able to decode into the type."""
    try:
        resolved = annotation.resolve()
    except Exception as exc:
        raise annotation.error(exc) from None
    try:
        msgspec.json.Decoder(resolved)
    except TypeError as exc:
        where = annotation.where
        raise ConfigError(f"{where}: msgspec cannot decode data into {resolved!r} ({exc})") from None
    return resolved


def check_hook(fn: Callable[..., Any], decorator: str, expected: tuple[str, ...]) -> None:
    """``on_connect``/``on_disconnect`` take ``(ns, client)``, ``on_empty`` takes ``(ns)``."""
    found = _positional(fn)
    if len(found) != len(expected) or len(found) != len(inspect.signature(fn).parameters):
        raise ConfigError(f"@{decorator} {_describe(fn)}: expected ({', '.join(expected)})")


def check_handler(fn: Callable[..., Any], type: str) -> tuple[bool, Any]:
    """``on(type)`` handlers take ``(ns, client)`` or ``(ns, client, data: T)``. Returns
    whether it takes data, and the type ``data`` is decoded into, or an ``DataAnnotation``
    when that annotation names nothing defined yet (``Pattern.resolve`` settles it)."""
    found = _positional(fn)
    where = f"@on({type!r}) {_describe(fn)}"
    if len(found) not in (2, 3) or len(found) != len(inspect.signature(fn).parameters):
        raise ConfigError(f"{where}: expected (ns, client) or (ns, client, data: T)")
    if len(found) == 2:
        if found[1].name == "data" or not _named_like(found[1].annotation, "Client"):
            raise ConfigError(f"{where}: the namespace comes first: expected (ns, client, data: T)")
        return False, Any
    ns, client, data = found
    if (ns.name == "data" or data.name in ("ns", "namespace", "client")
            or not _named_like(ns.annotation, "Namespace") or not _named_like(client.annotation, "Client")):
        raise ConfigError(f"{where}: the parameters are in the wrong order: expected "
                          f"(ns, client, data: {_annotation_text(_data_param(found))})")
    annotation = DataAnnotation(where, data, fn)
    try:
        annotation.resolve()
    except NameError:
        return True, annotation  # maybe defined further down the module: checked at start
    return True, data_type(annotation)


def _data_param(found: list[inspect.Parameter]) -> inspect.Parameter:
    """The parameter that looks like ``data`` in a handler written in the wrong order."""
    for param in found:
        if param.name == "data" or (param.name not in ("ns", "namespace", "client")
                                    and not _named_like(param.annotation, "Namespace")):
            return param
    return found[-1]


def _annotation_text(param: inspect.Parameter) -> str:
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        return "T"
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))


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

