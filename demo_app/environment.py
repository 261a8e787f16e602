"""bubblemap's settings from the environment (``BUBBLEMAP_*``): the defaults of
``python -m demo_app``'s options, and what ``create_app()`` uses when Sanic's CLI calls it
with no arguments (``sanic demo_app.app:create_app --factory --workers 2``)."""

from __future__ import annotations

import os


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"BUBBLEMAP_{name}", default)


def db() -> str:
    return env("DB", "bubblemap.db") or "bubblemap.db"


def broker() -> str:
    return env("BROKER", "memory://") or "memory://"


def metrics() -> bool:
    return (env("METRICS", "") or "").lower() in ("1", "true", "yes")


def admins() -> list[str]:
    return [a.strip() for a in (env("ADMINS", "") or "").split(",") if a.strip()]


def ws_token_lifetime() -> float | None:
    """Seconds a WebSocket grant lasts (``BUBBLEMAP_WS_TOKEN_LIFETIME``): shortened by the
    end-to-end tests so that a page refreshes its token within a test."""
    value = env("WS_TOKEN_LIFETIME")
    return None if not value else float(value)
