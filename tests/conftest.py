"""Shared fixtures: see servers.py for how real servers are started."""
