"""examples/token_stream.py in Chromium: its page reads the stream with a plain
``EventSource`` (no SDK). Reloaded in the middle of the stream it resumes where it was and
ends with the generator's text exactly (no chunk lost or repeated); a second tab shows the
same text."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from examples.token_stream import generate
from tests.support.processes import ServerProcess

PROMPT = "a prompt for the e2e run"
#: The whole stream takes CHUNKS * this (60 * 0.15 s = 9 s): a reload after a few chunks
#: lands in its middle.
DELAY_S = "0.15"
DONE_MS = 30_000


@pytest.fixture
def token_stream(spawn_server: Callable[..., ServerProcess]) -> ServerProcess:
    return spawn_server([sys.executable, "-m", "sanic", "examples.token_stream:app", "--host", "127.0.0.1",
                         "--port", "{port}", "--no-motd"],
                        env={"TOKEN_STREAM_DELAY": DELAY_S}, name="token-stream").start(timeout=60)


def text(page: Page) -> str:
    return page.locator("#text").text_content() or ""


def test_the_page_reloaded_mid_stream_ends_with_the_generators_text_and_a_second_tab_too(
        token_stream: ServerProcess, page: Page, context: BrowserContext):
    expected = "".join(generate(PROMPT))
    url = f"{token_stream.url}/?stream=e2e"
    page.goto(url)
    expect(page.locator("#state")).to_have_text("streaming")
    page.locator("input[name=prompt]").fill(PROMPT)
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("document.getElementById('text').textContent.split(' ').length > 5")
    before_reload = text(page)
    page.reload()
    expect(page.locator("#state")).to_have_text("done", timeout=DONE_MS)
    assert len(before_reload) < len(expected), "the reload came after the end of the stream"
    assert text(page) == expected

    second = context.new_page()
    second.goto(url)
    expect(second.locator("#state")).to_have_text("done", timeout=DONE_MS)
    assert text(second) == expected
