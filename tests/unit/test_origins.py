"""The same-origin rule and the allow-list, without sockets."""

import pytest

from sanic_wsns.origins import origin_allowed


@pytest.mark.parametrize("origin, host, allowed, expected", [
    (None, "app.example", (), True),
    ("https://app.example", "app.example", (), True),
    ("https://app.example:443", "app.example", (), True),
    ("https://app.example", "app.example:443", (), True),
    ("http://app.example:8080", "app.example:8080", (), True),
    ("http://APP.example:8080/", "app.example:8080", (), True),
    ("http://app.example:8081", "app.example:8080", (), False),
    ("https://evil.example", "app.example", (), False),
    ("null", "app.example", (), False),
    ("https://app.example", None, (), False),
    ("https://partner.example", "app.example", ("https://partner.example/",), True),
    ("https://other.example", "app.example", ("https://partner.example",), False),
    ("https://anything.example", "app.example", ("*",), True),
])
def test_origin_rule(origin, host, allowed, expected):
    assert origin_allowed(origin, host, allowed) is expected
