"""Broker URLs, read strictly when the extension is built.

A typo in a broker URL (``redis:/host``, ``redis://host/abc``, a port out of range, an
unknown option) would otherwise surface at server start, deep in a redis-py traceback, or
never (redis-py ignores what it does not understand). ``parse_broker_url`` refuses it with
one ``ConfigError`` line that names the URL (password hidden) and what is wrong.

Accepted forms::

    memory://                     one process (default)
    memory://<name>               a separate in-process hub (tests, demos)
    redis://[user:password@]host[:port][/db][?option=value...]
    rediss://...                  the same over TLS
    redis+cluster://host[:port][?option=value...]    any node of a Redis Cluster (db 0 only)
    rediss+cluster://...          the same over TLS

Options: ``probe_interval`` (seconds; see ``RedisBroker``), ``socket_timeout`` and
``socket_connect_timeout`` (seconds, passed to redis-py), and with TLS ``ssl_cert_reqs``
(``none``, ``optional``, ``required``), ``ssl_ca_certs`` (a path), ``ssl_check_hostname``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigError
from .base import redact

MEMORY_SCHEMES = ("memory",)
REDIS_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")
SCHEMES = MEMORY_SCHEMES + REDIS_SCHEMES
#: Databases a stock Redis has (``databases 16``); a server configured with more is rare,
#: and a typo such as ``/60`` is common.
MAX_DB = 15
#: Options sanic-wsns reads itself; they never reach redis-py.
OWN_OPTIONS = ("probe_interval",)


def _seconds(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise ValueError("must be a positive number of seconds")
    return value


def _boolean(value: str) -> str:
    if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError("must be true or false")
    return value


def _cert_reqs(value: str) -> str:
    if value not in ("none", "optional", "required"):
        raise ValueError("must be none, optional or required")
    return value


#: Query option -> checker (raises ValueError); TLS options are only for ``rediss``.
OPTIONS: dict[str, Callable[[str], str]] = {
    "probe_interval": _seconds,
    "socket_timeout": _seconds,
    "socket_connect_timeout": _seconds,
}
TLS_OPTIONS: dict[str, Callable[[str], str]] = {
    "ssl_cert_reqs": _cert_reqs,
    "ssl_ca_certs": str,
    "ssl_check_hostname": _boolean,
}


@dataclass(frozen=True)
class BrokerUrl:
    """A broker URL that passed every check."""

    url: str
    scheme: str
    #: Redis Cluster: subscriptions follow each channel's slot owner.
    cluster: bool = False
    #: What redis-py is given: ``redis://`` or ``rediss://``, without sanic-wsns's own options.
    client_url: str = ""
    #: sanic-wsns's own query options, as given (``probe_interval``).
    own_options: dict[str, str] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        """``memory`` or ``redis``: which broker class serves it."""
        return "memory" if self.scheme in MEMORY_SCHEMES else "redis"


def parse_broker_url(url: str) -> BrokerUrl:
    """Check ``url`` completely; raise ``ConfigError`` naming the first problem found."""

    def refuse(problem: str) -> ConfigError:
        return ConfigError(f"invalid broker URL {redact(url)!r}: {problem}")

    if not isinstance(url, str) or not url:
        raise ConfigError(f"invalid broker URL {url!r}: expected a string such as redis://host:6379/0")
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise refuse(f"unknown broker URL scheme {scheme!r}; use one of {known}")
    if not rest.startswith("//"):
        raise refuse(f"expected two slashes after the scheme ({scheme}://...)")
    parts = urlsplit(url)
    if parts.fragment:
        raise refuse("a '#fragment' has no meaning here")
    if scheme in MEMORY_SCHEMES:
        if parts.path or parts.query or "@" in parts.netloc or ":" in parts.netloc:
            raise refuse("memory:// takes at most a hub name (memory://name)")
        return BrokerUrl(url, scheme)
    return _parse_redis(url, scheme, parts, refuse)


def _parse_redis(url: str, scheme: str, parts: SplitResult,
                 refuse: Callable[[str], ConfigError]) -> BrokerUrl:
    cluster = scheme.endswith("+cluster")
    if not parts.hostname:
        raise refuse("no host")
    try:
        port = parts.port
    except ValueError:
        raise refuse("the port must be a number from 1 to 65535") from None
    if port == 0:
        raise refuse("the port must be a number from 1 to 65535")
    db_text = parts.path.removeprefix("/")
    if "/" in db_text or (db_text and not (db_text.isascii() and db_text.isdigit())):
        raise refuse(f"the database must be a number from 0 to {MAX_DB}, not {db_text!r}")
    if db_text and int(db_text) > MAX_DB:
        raise refuse(f"the database must be a number from 0 to {MAX_DB}, not {db_text}")
    if cluster and db_text and int(db_text) != 0:
        raise refuse("a Redis Cluster has database 0 only")
    allowed = OPTIONS | (TLS_OPTIONS if scheme.startswith("rediss") else {})
    own: dict[str, str] = {}
    passed: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        check = allowed.get(name)
        if check is None:
            raise refuse(f"unknown option {name!r}; known: {', '.join(sorted(allowed))}")
        if name in seen:
            raise refuse(f"option {name!r} given twice")
        seen.add(name)
        try:
            check(value)
        except ValueError as exc:
            raise refuse(f"option {name}={value!r} {exc}") from None
        if name in OWN_OPTIONS:
            own[name] = value
        else:
            passed.append((name, value))
    client_url = urlunsplit(parts._replace(scheme=scheme.removesuffix("+cluster"), query=urlencode(passed)))
    return BrokerUrl(url, scheme, cluster, client_url, own)
