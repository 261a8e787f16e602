"""bubblemap: the collaborative demo app of sanic-wsns (``python -m demo_app``)."""

from .app import create_app

__all__ = ["create_app"]
