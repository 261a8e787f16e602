"""Path templates such as ``/api/1/ws/bubblemap/<map_id:int>``, without I/O.

Sanic routes the upgrade; this module is what lets the extension go the other way
(params -> canonical path, for ``pattern.broadcast(params, ...)``) and match a path
given by the app (``create_namespace``, ``broadcast(path, ...)``). Parameter types are
Sanic's own (``sanic_routing``), so both agree on what a path means.

The canonical path percent-encodes every parameter value, so two namespaces never share
a path (or a broker channel) however odd their ids: ``a/b`` is ``a%2Fb``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from sanic_routing.patterns import REGEX_TYPES

from .errors import ConfigError

_PARAM = re.compile(r"^<([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z0-9_]+))?>$")
#: ``{item_id}`` or ``{item_id:int}``: how FastAPI, Starlette and Flask-style routers write a
#: parameter; Sanic would take it as literal text and no client path would ever match.
_BRACED = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z0-9_]+))?\}")
SUPPORTED_TYPES = ("str", "int", "float", "alpha", "slug", "uuid")


class PathTemplate:
    """One declared pattern: literal segments and typed, whole-segment parameters."""

    __slots__ = ("pattern", "_segments", "names")

    def __init__(self, pattern: str):
        if not pattern.startswith("/"):
            raise ConfigError(f"pattern must start with '/': {pattern!r}")
        self.pattern = pattern
        self._segments: list[str | tuple[str, str]] = []
        for segment in pattern.strip("/").split("/"):
            _refuse_braces(segment, pattern)
            if "<" not in segment:
                self._segments.append(segment)
                continue
            found = _PARAM.match(segment)
            if not found:
                raise ConfigError(f"a parameter must fill a whole segment: {segment!r} in {pattern!r}")
            name, kind = found.group(1), found.group(2) or "str"
            if kind not in SUPPORTED_TYPES:
                raise ConfigError(f"unsupported parameter type {kind!r}; use one of {SUPPORTED_TYPES}")
            self._segments.append((name, kind))
        self.names = tuple(s[0] for s in self._segments if isinstance(s, tuple))
        if len(set(self.names)) != len(self.names):
            raise ConfigError(f"duplicate parameter name in {pattern!r}")

    @property
    def prefix(self) -> str:
        """The literal start of the pattern, up to its first parameter, with its trailing
        ``/`` (``/ws/rooms/`` for ``/ws/rooms/<room_id:int>``); the whole pattern when it
        has none."""
        literal: list[str] = []
        for segment in self._segments:
            if not isinstance(segment, str):
                return "/" + "".join(part + "/" for part in literal)
            literal.append(segment)
        return self.pattern

    @property
    def root(self) -> str | None:
        """The pattern's first segment with its slashes (``/ws/`` for
        ``/ws/rooms/<room_id:int>``) when it is literal and more segments follow, else
        ``None``: the part of the URL space its upgrades, right or mistyped, fall under."""
        first = self._segments[0]
        return f"/{first}/" if isinstance(first, str) and len(self._segments) > 1 else None

    def format(self, params: Mapping[str, Any]) -> str:
        """The canonical path for ``params``; raises ``ValueError`` if they do not fit."""
        if set(params) != set(self.names):
            raise ValueError(f"{self.pattern} takes parameters {self.names}, got {tuple(params)}")
        parts = []
        for segment in self._segments:
            if isinstance(segment, str):
                parts.append(segment)
                continue
            name, kind = segment
            text = str(params[name])
            if not REGEX_TYPES[kind][1].match(text):
                raise ValueError(f"{name}={text!r} is not a valid {kind}")
            parts.append(quote(text, safe=""))
        return "/" + "/".join(parts)

    def match(self, path: str) -> dict[str, Any] | None:
        """Typed params if ``path`` fits this template, else ``None``."""
        segments = path.strip("/").split("/")
        if len(segments) != len(self._segments):
            return None
        params: dict[str, Any] = {}
        for want, got in zip(self._segments, segments, strict=True):
            if isinstance(want, str):
                if want != got:
                    return None
                continue
            name, kind = want
            text = unquote(got)
            cast, regex, _ = REGEX_TYPES[kind]
            if not text or not regex.match(text):
                return None
            params[name] = cast(text)
        return params


def _refuse_braces(segment: str, pattern: str) -> None:
    """A ``{name}`` parameter is refused with the Sanic spelling of the same pattern."""
    if _BRACED.search(segment) is None:
        return

    def sanic_style(found: re.Match[str]) -> str:
        kind = found.group(2) if found.group(2) in SUPPORTED_TYPES else "int"
        return f"<{found.group(1)}:{kind}>"

    fixed = _BRACED.sub(sanic_style, pattern)
    raise ConfigError(f"{pattern!r}: Sanic writes path parameters as <name:type>, not {{name}}: "
                      f"declare {fixed!r} (types: {', '.join(SUPPORTED_TYPES)})")
