"""Broker URLs are checked when the extension is built: each mistake is one ConfigError line
that names the URL (never its password) and the problem."""

import pytest
from sanic import Sanic

from sanic_wsns import WsNamespaces
from sanic_wsns.broker import create_broker, parse_broker_url
from sanic_wsns.errors import ConfigError
from tests.support.servers import new_app


@pytest.mark.parametrize(("url", "scheme", "cluster", "client_url", "own"), [
    ("memory://", "memory", False, "", {}),
    ("memory://bubblemap-1", "memory", False, "", {}),
    ("redis://127.0.0.1", "redis", False, "redis://127.0.0.1", {}),
    ("redis://127.0.0.1:6379/0", "redis", False, "redis://127.0.0.1:6379/0", {}),
    ("redis://localhost:6379/15", "redis", False, "redis://localhost:6379/15", {}),
    ("redis://user:pw@redis.internal:6380/2", "redis", False, "redis://user:pw@redis.internal:6380/2", {}),
    ("redis://:pw@[::1]:6379/", "redis", False, "redis://:pw@[::1]:6379/", {}),
    ("REDIS://h/1", "redis", False, "redis://h/1", {}),
    ("redis://h/0?probe_interval=0.5&socket_timeout=3", "redis", False, "redis://h/0?socket_timeout=3",
     {"probe_interval": "0.5"}),
    ("rediss://h:6380/0?ssl_cert_reqs=none&ssl_check_hostname=false", "rediss", False,
     "rediss://h:6380/0?ssl_cert_reqs=none&ssl_check_hostname=false", {}),
    ("redis+cluster://10.0.0.11:6379", "redis+cluster", True, "redis://10.0.0.11:6379", {}),
    ("redis+cluster://10.0.0.11:6379/0?probe_interval=2", "redis+cluster", True,
     "redis://10.0.0.11:6379/0", {"probe_interval": "2"}),
    ("rediss+cluster://h", "rediss+cluster", True, "rediss://h", {}),
])
def test_good_urls_are_accepted_and_split_into_what_redis_py_and_the_broker_read(
        url, scheme, cluster, client_url, own):
    parsed = parse_broker_url(url)
    assert (parsed.scheme, parsed.cluster, parsed.client_url, parsed.own_options) == (
        scheme, cluster, client_url, own)


@pytest.mark.parametrize(("url", "problem"), [
    ("redis:/localhost", "two slashes after the scheme"),
    ("redis:localhost:6379", "two slashes after the scheme"),
    ("memory:", "two slashes after the scheme"),
    ("ftp://x", "unknown broker URL scheme 'ftp'; use one of memory://, redis://"),
    ("localhost:6379", "unknown broker URL scheme 'localhost'"),
    ("", "expected a string"),
    ("redis://", "no host"),
    ("redis://:6379/0", "no host"),
    ("redis://host/abc", "the database must be a number from 0 to 15, not 'abc'"),
    ("redis://host/1/2", "the database must be a number"),
    ("redis://host/-1", "the database must be a number"),
    ("redis://host/16", "not 16"),
    ("redis://host:99999", "the port must be a number from 1 to 65535"),
    ("redis://host:0", "the port must be a number from 1 to 65535"),
    ("redis://host:http", "the port must be a number from 1 to 65535"),
    ("redis+cluster://host/3", "a Redis Cluster has database 0 only"),
    ("redis://host/0?db=2", "unknown option 'db'; known: probe_interval"),
    ("redis://host/0?protocol=3", "unknown option 'protocol'"),
    ("redis://host/0?ssl_cert_reqs=none", "unknown option 'ssl_cert_reqs'"),
    ("rediss://host/0?ssl_cert_reqs=maybe", "must be none, optional or required"),
    ("redis://host/0?probe_interval=0", "must be a positive number of seconds"),
    ("redis://host/0?probe_interval=soon", "must be a positive number of seconds"),
    ("redis://host/0?socket_timeout=inf", "must be a positive number of seconds"),
    ("redis://host/0?probe_interval=1&probe_interval=2", "given twice"),
    ("redis://host/0#frag", "fragment"),
    ("memory://a/b", "memory:// takes at most a hub name"),
    ("memory://x?y=1", "memory:// takes at most a hub name"),
])
def test_each_malformed_url_is_one_config_error_line_naming_url_and_problem(url, problem):
    with pytest.raises(ConfigError) as refused:
        parse_broker_url(url)
    message = str(refused.value)
    assert "\n" not in message
    assert problem in message
    assert f"invalid broker URL {url!r}" in message


def test_the_password_never_appears_in_the_error():
    with pytest.raises(ConfigError) as refused:
        parse_broker_url("redis://admin:hunter2@host/abc")
    assert "hunter2" not in str(refused.value)
    assert "redis://admin:***@host/abc" in str(refused.value)


@pytest.mark.parametrize("url", ["redis:/localhost", "redis://host/abc", "redis://host:99999", "ftp://x"])
def test_the_extension_refuses_a_malformed_url_when_it_is_built(url):
    with pytest.raises(ConfigError, match="invalid broker URL"):
        WsNamespaces(new_app("wsns_bad_url"), broker=url)


def test_a_malformed_url_in_app_config_is_refused_when_the_extension_attaches():
    app: Sanic = new_app("wsns_bad_config_url")
    app.config.WSNS_BROKER = "redis://host:6379/zero"
    with pytest.raises(ConfigError, match="the database must be a number"):
        WsNamespaces(app)


def test_create_broker_refuses_what_the_parser_refuses():
    with pytest.raises(ConfigError, match="unknown broker URL scheme"):
        create_broker("kafka://x", lambda c, p: None, lambda cs: None)
