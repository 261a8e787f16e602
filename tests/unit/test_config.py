"""Settings: defaults, app config, keyword overrides, and refusal of mistakes."""

import pytest

from sanic_wsns.config import load_settings
from sanic_wsns.errors import ConfigError


def test_defaults_are_the_documented_ones():
    s = load_settings({}, {})
    assert (s.broker, s.max_frame_size, s.rate_limit, s.rate_burst, s.abuse_limit) == (
        "memory://", 65536, 50.0, 100, 1000)
    assert 0 < s.unsubscribe_linger <= 2


def test_keyword_overrides_win_over_app_config_which_wins_over_defaults():
    s = load_settings({"WSNS_RATE_LIMIT": 5, "WSNS_RATE_BURST": 7}, {"rate_limit": 9})
    assert (s.rate_limit, s.rate_burst) == (9, 7)


def test_env_style_strings_are_converted():
    s = load_settings({"WSNS_REDIS_SHARDED": "true", "WSNS_ALLOWED_ORIGINS": "https://a, https://b"}, {})
    assert s.redis_sharded is True and s.allowed_origins == ["https://a", "https://b"]


def test_connection_caps_are_off_by_default_and_read_from_app_config():
    assert (load_settings({}, {}).max_connections, load_settings({}, {}).max_connections_per_identity) == (
        None, None)
    s = load_settings({"WSNS_MAX_CONNECTIONS": "1000", "WSNS_MAX_CONNECTIONS_PER_IDENTITY": "50"}, {})
    assert (s.max_connections, s.max_connections_per_identity) == (1000, 50)


def test_the_connect_rate_is_on_by_default_and_none_switches_it_off():
    assert (load_settings({}, {}).connect_rate, load_settings({}, {}).connect_burst) == (10.0, 30)
    assert load_settings({}, {"connect_rate": None}).connect_rate is None


@pytest.mark.parametrize("config, overrides", [
    ({"WSNS_RATE_LIMT": 1}, {}),
    ({}, {"brokr": "memory://"}),
    ({}, {"unsubscribe_linger": 5}),
    ({}, {"max_frame_size": "big"}),
    ({}, {"max_connections": 0}),
    ({"WSNS_MAX_CONNECTIONS_PER_IDENTITY": -1}, {}),
    ({}, {"rate_limit": 0}),
    ({}, {"connect_rate": 0}),
    ({"WSNS_CONNECT_BURST": "0"}, {}),
    ({}, {"open_rate": 0}),
    ({"WSNS_OPEN_BURST": "0"}, {}),
    ({}, {"compression_threshold": -1}),
    ({"WSNS_COMPRESSION": "maybe"}, {}),
])
def test_mistakes_are_refused_with_a_config_error(config, overrides):
    with pytest.raises(ConfigError):
        load_settings(config, overrides)


def test_compression_is_read_from_the_environment_style_config():
    settings = load_settings({"WSNS_COMPRESSION": "true", "WSNS_COMPRESSION_THRESHOLD": "512"}, {})
    assert settings.compression is True and settings.compression_threshold == 512
