"""The SSE client token (client_tokens.py): a stream's id, signed, for one namespace and user."""

from __future__ import annotations

from sanic_wsns.client_tokens import ClientTokens

TOKENS = ClientTokens(b"shared secret")


def test_a_token_names_its_client_for_its_namespace_and_user_only() -> None:
    token = TOKENS.sign("/rooms/1", "abc-1", "ann")
    assert TOKENS.client_id(token, "/rooms/1", "ann") == "abc-1"
    assert ClientTokens(b"shared secret").client_id(token, "/rooms/1", "ann") == "abc-1"  # any instance
    assert TOKENS.client_id(token, "/rooms/1", "bob") is None
    assert TOKENS.client_id(token, "/rooms/2", "ann") is None
    assert ClientTokens(b"another").client_id(token, "/rooms/1", "ann") is None


def test_a_token_cannot_be_moved_to_another_client_id_or_made_up() -> None:
    token = TOKENS.sign("/rooms/1", "abc-1", "ann")
    mac = token.rpartition(".")[2]
    for forged in (f"abc-2.{mac}", "abc-1", "abc-1.", ".x", "", "a" * 500, f"{token}x"):
        assert TOKENS.client_id(forged, "/rooms/1", "ann") is None, forged
    assert TOKENS.client_id(None, "/rooms/1", "ann") is None


def test_users_of_any_hashable_shape_are_bound() -> None:
    for user in (None, 1, "1", {"id": 1}, ("a", 1)):
        token = TOKENS.sign("/r", "c-1", user)
        assert TOKENS.client_id(token, "/r", user) == "c-1"
    assert TOKENS.client_id(TOKENS.sign("/r", "c-1", 1), "/r", "1") is None
