"""End-to-end tests: real browsers against real server processes (``python -m pytest e2e``)."""
