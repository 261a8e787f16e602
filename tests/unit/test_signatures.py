"""A mistaken hook or handler signature is a ConfigError when the decorator runs: one line
naming the function, what was expected and what was found."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from sanic_wsns import Client, ConfigError, Namespace, WsNamespaces

if TYPE_CHECKING:
    from decimal import Context as TypeCheckingOnly


class Say(msgspec.Struct):
    text: str


@pytest.fixture
def rooms():
    return WsNamespaces().pattern("/ws/rooms/<room_id:int>")


def test_a_handler_without_its_namespace_is_refused(rooms):
    with pytest.raises(ConfigError, match=r"@on\('say'\) .*say\(client, data.*namespace comes first"):
        @rooms.on("say")
        async def say(client, data: Say): ...


def test_a_two_parameter_handler_whose_second_is_named_data_is_refused(rooms):
    with pytest.raises(ConfigError, match="namespace comes first"):
        @rooms.on("say")
        async def say(ns, data): ...


@pytest.mark.parametrize("params", ["", "ns", "ns, client, data, extra", "*args"])
def test_a_handler_with_the_wrong_number_of_parameters_is_refused(rooms, params):
    namespace: dict[str, Any] = {}
    exec(f"async def handler({params}): ...", namespace)
    with pytest.raises(ConfigError, match=r"expected \(ns, client\) or \(ns, client, data: T\)"):
        rooms.on("x")(namespace["handler"])


def test_a_data_type_msgspec_cannot_decode_is_refused(rooms):
    with pytest.raises(ConfigError, match="msgspec cannot decode data into"):
        @rooms.on("x")
        async def handler(ns, client, data: object()): ...  # type: ignore[valid-type]


def test_good_handlers_are_accepted(rooms):
    @rooms.on("a")
    async def with_data(ns: Namespace, client: Client, data: Say): ...

    @rooms.on("b")
    async def without_data(ns, client: Client): ...

    assert rooms.handlers["a"].takes_data and not rooms.handlers["b"].takes_data


@pytest.mark.parametrize(("decorator", "expected"), [
    ("on_connect", "(ns, client)"), ("on_disconnect", "(ns, client)"), ("on_empty", "(ns)")])
def test_hooks_with_the_wrong_parameters_are_refused(rooms, decorator, expected):
    async def hook(ns, client, extra): ...

    message = rf"@{decorator} .*hook\(ns, client, extra\): expected {re.escape(expected)}"
    with pytest.raises(ConfigError, match=message):
        getattr(rooms, decorator)(hook)


def test_on_connect_with_only_the_namespace_is_refused(rooms):
    with pytest.raises(ConfigError, match=r"@on_connect .*\(ns\): expected \(ns, client\)"):
        @rooms.on_connect
        async def hello(ns): ...


def test_authorize_must_take_the_patterns_parameter_names(rooms):
    with pytest.raises(ConfigError, match=r"@authorize .*can_join\(request, id\) on /ws/rooms/<room_id:int>: "
                                          r"expected \(request, room_id\); it takes id"):
        @rooms.authorize
        async def can_join(request, id): ...


def test_authorize_may_take_the_params_by_name_or_as_kwargs(rooms):
    @rooms.authorize
    def by_name(request, room_id): ...

    @rooms.authorize
    def as_kwargs(request, **params): ...

    @rooms.authorize
    def with_a_default(request, room_id, strict=False): ...


def test_authorize_without_a_request_is_refused(rooms):
    with pytest.raises(ConfigError, match=r"expected \(request, room_id\)"):
        @rooms.authorize
        def nothing(): ...


def test_a_pattern_with_history_cannot_hold_braces():
    with pytest.raises(ConfigError, match="cannot hold"):
        WsNamespaces().pattern("/ws/{}/<room_id:int>", presence=True)
    WsNamespaces().pattern("/ws/{}/<room_id:int>")  # without either, braces are fine


def test_a_handler_with_data_first_is_refused_with_the_right_order(rooms):
    with pytest.raises(ConfigError, match=r"wrong order: expected \(ns, client, data: Say\)"):
        @rooms.on("say")
        async def say(data: Say, client, ns): ...


def test_a_handler_whose_first_parameter_is_annotated_with_the_data_type_is_refused(rooms):
    with pytest.raises(ConfigError, match=r"wrong order: expected \(ns, client, data: Say\)"):
        @rooms.on("say")
        async def say(message: Say, client: Client, ns: Namespace): ...


def test_on_without_its_type_is_refused_with_the_right_spelling(rooms):
    with pytest.raises(ConfigError, match=r'@on say on /ws/rooms/<room_id:int>: .*@pattern\.on\("type"\)'):
        @rooms.on  # type: ignore[arg-type]
        async def say(ns, client, data: Say): ...


def test_a_data_type_imported_only_for_type_checkers_is_refused_at_start(rooms):
    @rooms.on("bid")
    async def bid(ns, client, data: TypeCheckingOnly): ...

    with pytest.raises(ConfigError, match=r"@on\('bid'\) .*bid\(.*cannot resolve the annotation "
                                          r"data: TypeCheckingOnly .*not only under `if TYPE_CHECKING:`"):
        rooms.resolve()


def test_a_data_type_defined_inside_a_function_is_refused_at_start(rooms):
    class Bid(msgspec.Struct):
        amount: int

    @rooms.on("bid")
    async def bid(ns, client, data: Bid): ...

    with pytest.raises(ConfigError, match=r"cannot resolve the annotation data: Bid"):
        rooms.resolve()


def test_a_misspelt_data_type_is_refused_at_start(rooms):
    @rooms.on("say")
    async def say(ns, client, data: Sya): ...  # noqa: F821

    with pytest.raises(ConfigError, match=r"the annotation data: Sya \(name 'Sya' is not defined\)"):
        rooms.resolve()


def test_a_data_type_defined_after_its_handler_is_resolved_at_start_and_validates(rooms):
    module: dict[str, Any] = {"rooms": rooms}
    exec("from __future__ import annotations\n"
         "@rooms.on('bid')\n"
         "async def bid(ns, client, data: Bid): ...\n", module)
    exec("import msgspec\nclass Bid(msgspec.Struct):\n    amount: int\n", module)
    rooms.resolve()
    assert rooms.handlers["bid"].decode(b'{"amount": 3}') == module["Bid"](amount=3)
    with pytest.raises(msgspec.ValidationError):
        rooms.handlers["bid"].decode(b'{"amount": "three"}')
