"""Path templates: canonical paths, matching, and what they refuse."""

import re
import uuid

import pytest

from sanic_wsns import WsNamespaces
from sanic_wsns.errors import ConfigError
from sanic_wsns.paths import PathTemplate


def test_int_param_matches_and_formats_canonically():
    template = PathTemplate("/api/1/ws/bubblemap/<map_id:int>")
    assert template.match("/api/1/ws/bubblemap/042") == {"map_id": 42}
    assert template.format({"map_id": 42}) == "/api/1/ws/bubblemap/42"
    assert template.match("/api/1/ws/bubblemap/x") is None
    assert template.match("/api/1/ws/bubblemap/1/2") is None


def test_uuid_and_slug_params_are_typed():
    template = PathTemplate("/d/<doc:uuid>/<name:slug>")
    doc = uuid.uuid4()
    assert template.match(f"/d/{doc}/my-doc") == {"doc": doc, "name": "my-doc"}
    assert template.match(f"/d/{doc}/Not_A_Slug") is None


def test_odd_str_params_are_percent_encoded_so_paths_never_collide():
    template = PathTemplate("/x/<a>/<b>")
    path = template.format({"a": "a:b%c", "b": "d e"})
    assert path == "/x/a%3Ab%25c/d%20e"
    assert template.match(path) == {"a": "a:b%c", "b": "d e"}


def test_a_str_param_cannot_hold_a_slash():
    with pytest.raises(ValueError):
        PathTemplate("/x/<a>").format({"a": "a/b"})


def test_format_requires_exactly_the_template_params():
    with pytest.raises(ValueError):
        PathTemplate("/x/<a:int>").format({"a": 1, "b": 2})
    with pytest.raises(ValueError):
        PathTemplate("/x/<a:int>").format({"a": "one"})


def test_literal_paths_have_no_params():
    assert PathTemplate("/lobby").match("/lobby") == {}
    assert PathTemplate("/lobby").format({}) == "/lobby"


@pytest.mark.parametrize("bad", ["no-slash", "/x/pre<a>", "/x/<a:path>", "/x/<a>/<a>"])
def test_unsupported_templates_are_refused_at_declaration(bad):
    with pytest.raises(ConfigError):
        PathTemplate(bad)


@pytest.mark.parametrize("braced, fixed", [
    ("/ws/items/{item_id}", "/ws/items/<item_id:int>"),
    ("/ws/{org:str}/items/{item_id}", "/ws/<org:str>/items/<item_id:int>"),
])
def test_a_fastapi_style_parameter_is_refused_with_the_sanic_spelling(braced, fixed):
    with pytest.raises(ConfigError, match=re.escape(f"declare {fixed!r}")):
        PathTemplate(braced)


def test_a_fastapi_style_parameter_is_refused_before_the_hash_tag_rule_of_history():
    with pytest.raises(ConfigError, match=re.escape("<item_id:int>")):
        WsNamespaces().pattern("/ws/items/{item_id}", history=True)
