"""The quick start in the test's own process, with the package's test kit, as a user would
test their own app: a refusal seen as ``remote.Denied``, then a request and its broadcast."""

from __future__ import annotations

import asyncio

import pytest

from sanic_wsns import remote, testing


async def test_the_quick_start_refuses_a_stranger_then_answers_a_signed_in_speaker():
    from examples.quickstart import app  # imported here: it builds the module's app

    async with testing.serve(app) as server:
        with pytest.raises(remote.Denied) as denied:
            await server.connect("/ws/rooms/1")
        assert (denied.value.code, denied.value.close_code, denied.value.reason) == (
            "unauthenticated", 4401, "sign in first")
        ada = await server.connect("/ws/rooms/1", cookies={"user": "ada"})
        heard = ada.frames()
        assert await ada.request("say", {"text": "hi"}) == "ok"
        async with asyncio.timeout(5):
            assert await anext(heard) == {"type": "said", "data": {"by": "ada", "text": "hi"}}
        with pytest.raises(remote.RequestError) as invalid:
            await ada.request("say", {"text": 7})
        assert invalid.value.code == "invalid_data"
