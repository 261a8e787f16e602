"""Admission: the verdict on an upgrade, from plain values, without a server."""

import pytest

from sanic_wsns import Forbidden, Identity, NotFound, Unauthorized
from sanic_wsns.admission import Admission, Refusal, admit, refuses
from sanic_wsns.config import load_settings
from sanic_wsns.pattern import Pattern

SETTINGS = load_settings({}, {"max_param_length": 10})
REQUEST = object()  # only the app's hook sees it


def rooms(authorizer=None) -> Pattern:
    pattern = Pattern(publisher=None, pattern="/rooms/<name:str>/<n:int>")
    if authorizer is not None:
        pattern.authorize(authorizer)
    return pattern


async def verdict(pattern, params=None, origin=None, host="app.example", settings=SETTINGS):
    return await admit(pattern, settings, origin=origin, host=host,
                       params=params or {"name": "a%20b", "n": 7}, request=REQUEST)


async def test_without_a_hook_the_upgrade_is_admitted_with_the_canonical_path_and_decoded_params():
    pattern = rooms()
    assert await verdict(pattern) == Admission(pattern, "/rooms/a%20b/7", {"name": "a b", "n": 7},
                                               None, None, None)


async def test_the_hook_gets_the_request_and_decoded_params_and_its_identity_is_kept():
    seen = []

    async def hook(request, name, n):
        seen.append((request, name, n))
        return Identity(value="ann", public={"name": "Ann"})

    admitted = await verdict(rooms(hook))
    assert seen == [(REQUEST, "a b", 7)]
    assert (admitted.identity, admitted.public) == ("ann", {"name": "Ann"})


async def test_the_cap_counts_identity_user_when_given_else_the_value():
    with_user = await verdict(rooms(lambda request, name, n: Identity("session-1", None, user="ann")))
    without = await verdict(rooms(lambda request, name, n: Identity("ann")))
    assert (with_user.identity, with_user.user) == ("session-1", "ann")
    assert (without.identity, without.user) == ("ann", "ann")


async def test_a_plain_return_value_is_the_identity_with_no_public_part():
    admitted = await verdict(rooms(lambda request, name, n: 42))
    assert (admitted.identity, admitted.public) == (42, None)


@pytest.mark.parametrize("denial, code", [(Unauthorized, 4401), (Forbidden, 4403), (NotFound, 4404)])
async def test_a_denial_becomes_a_refusal_with_its_close_code(denial, code):
    def hook(request, name, n):
        raise denial("no")

    assert await verdict(rooms(hook)) == Refusal(code, "no")


async def test_a_crashing_hook_is_refused_1011_without_its_message():
    def hook(request, name, n):
        raise RuntimeError("database password is hunter2")

    assert await verdict(rooms(hook)) == Refusal(1011, "internal error")


async def test_a_foreign_origin_is_refused_before_the_hook_runs():
    def hook(request, name, n):
        raise AssertionError("must not run")

    assert await verdict(rooms(hook), origin="https://evil.example") == Refusal(4403, "origin not allowed")


@pytest.mark.parametrize("params, reason", [
    ({"name": "x" * 11, "n": 1}, "path parameter too long"),
    ({"name": "a%2Fb", "n": 1}, "invalid path parameter"),  # decodes to a '/'
])
async def test_bad_params_are_refused_1008_before_the_hook_runs(params, reason):
    def hook(request, name, n):
        raise AssertionError("must not run")

    assert await verdict(rooms(hook), params=params) == Refusal(1008, reason)


def test_refusals_are_named_for_stats():
    assert [Refusal(code, "").name for code in (4401, 4403, 4404, 1008, 1011, 1013, 4999)] == [
        "unauthenticated", "forbidden", "not_found", "bad_request", "error", "over_capacity", "4999"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_hook_that_returns_false_refuses_with_4403(kind):
    async def async_hook(request, name, n):
        return False

    hook = async_hook if kind == "async" else (lambda request, name, n: False)
    refused = await verdict(rooms(hook))
    assert isinstance(refused, Refusal) and refused.code == 4403 and refused.name == "forbidden"
    assert "authorize returned False" in refused.reason


async def test_a_hook_that_returns_none_admits_with_no_identity():
    admitted = await verdict(rooms(lambda request, name, n: None))
    assert isinstance(admitted, Admission)
    assert (admitted.identity, admitted.public, admitted.user) == (None, None, None)


@pytest.mark.parametrize("answer, refused", [(False, True), (None, False), (True, False), (0, False),
                                             ("", False), ("ann", False)])
def test_one_rule_reads_every_guard_answer_only_false_refuses(answer, refused):
    assert refuses(answer) is refused
