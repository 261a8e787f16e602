"""The one client of the demo's REST API, for every harness (tests, e2e, scripts): plain
``urllib`` (no extra dependency), a signed-in user's session cookie on each call, every call
bounded. Blocking: a test in an event loop calls it on a worker thread (``tests.support.demo``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

#: Every test user's password, the admins' included (``BUBBLEMAP_ADMIN_PASSWORD``); long
#: enough to be accepted.
PASSWORD = "correct horse battery"
#: Seconds a call may take (two shared cores, a busy machine).
TIMEOUT = 10.0


def credentials(name: str, password: str = PASSWORD) -> dict[str, str]:
    """The sign-in body for ``name`` (the first sign-in registers it)."""
    return {"name": name, "password": password}


@dataclass
class Response:
    status: int
    body: bytes
    headers: Message

    @property
    def data(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class DemoApi:
    """One user of the demo at ``base_url``: ``cookie`` is its session (``None``: signed out)."""

    base_url: str
    name: str = ""
    cookie: str | None = None

    @classmethod
    def sign_in(cls, base_url: str, name: str, password: str = PASSWORD) -> DemoApi:
        """Sign in (the first time: register) ``name``; a new session each call."""
        reply = cls(base_url).call("POST", "/api/1/session", credentials(name, password))
        assert reply.status == 200, reply.body
        return cls(base_url, name, reply.headers["Set-Cookie"].split(";", 1)[0])

    def on(self, base_url: str) -> DemoApi:
        """The same session used against another instance (or nginx)."""
        return DemoApi(base_url, self.name, self.cookie)

    def call(self, method: str, path: str, data: Any = None, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> Response:
        """One request, sent as JSON unless ``headers`` say otherwise; any status is returned."""
        sent = {"Content-Type": "application/json"}
        if self.cookie:
            sent["Cookie"] = self.cookie
        sent.update(headers or {})
        body = raw if raw is not None else (None if data is None else json.dumps(data).encode())
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
                return Response(reply.status, reply.read(), reply.headers)
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, error.read(), error.headers)

    def ok(self, method: str, path: str, data: Any = None) -> Any:
        """A request that must succeed (2xx); its JSON answer."""
        reply = self.call(method, path, data)
        assert 200 <= reply.status < 300, f"{method} {path} -> {reply.status} {reply.body!r}"
        return reply.data

    def create_map(self, title: str = "Ideas", private: bool = False) -> dict[str, Any]:
        reply = self.call("POST", "/api/1/maps", {"title": title, "private": private})
        assert reply.status == 201, reply.body
        return reply.data

    def bubbles(self, map_id: int) -> list[dict[str, Any]]:
        return self.ok("GET", f"/api/1/maps/{map_id}")["bubbles"]

    def invite(self, map_id: int, name: str) -> None:
        """Make ``name`` a member of ``map_id`` (signed in once first: the demo only adds
        members who have an account)."""
        DemoApi.sign_in(self.base_url, name)
        self.ok("POST", f"/api/1/maps/{map_id}/members", {"name": name})

    def stats(self) -> dict[str, Any]:
        return self.ok("GET", "/admin/wsns/stats")
