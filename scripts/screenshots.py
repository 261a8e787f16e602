"""Take the README's screenshots from the running demo, so they show the page as it is.

    python scripts/screenshots.py [--out docs/img]

Starts one bubblemap instance on a fresh database (a real process, as the E2E tests do),
signs in two people, fills a map through the API, opens it for both in Chromium, and saves
``bubblemap-map.png`` (the map, as its owner sees it with the other person on it) and
``bubblemap-admin.png`` (the admin page). Needs the test extras (Playwright) and Debian's
Chromium, like the E2E suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import BrowserContext, sync_playwright  # noqa: E402

from e2e.bubblemap_fixtures import ADMIN, MapPage  # noqa: E402
from tests.support.demo_api import PASSWORD, DemoApi, credentials  # noqa: E402
from tests.support.processes import ServerProcess  # noqa: E402

SIZE = {"width": 1200, "height": 720}
CHROMIUM = {"executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]}
BUBBLES = [
    (180, 170, "Ship the outbox", "#fde68a"),
    (400, 120, "Pages ignore versions they already have", "#bfdbfe"),
    (330, 330, "Zoom & pan", "#bbf7d0"),
    (560, 300, "Undo with Ctrl-Z", "#fbcfe8"),
    (140, 400, "Keyboard: Tab, Enter, arrows", "#ddd6fe"),
    (620, 470, "Works on a phone", "#fed7aa"),
]


def signed_in(browser, base_url: str, name: str) -> BrowserContext:
    context = browser.new_context(viewport=SIZE, device_scale_factor=1)
    response = context.request.post(base_url + "/api/1/session", data=credentials(name))
    assert response.ok, response.text()
    return context


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bubblemap-shots-") as tmp:
        server = ServerProcess([sys.executable, "-m", "demo_app", "--port", "{port}",
                                "--db", str(Path(tmp) / "shots.db"), "--admin", ADMIN],
                               ready_path="/api/1/session", name="bubblemap-screenshots",
                               env={"BUBBLEMAP_ADMIN_PASSWORD": PASSWORD})
        server.start()
        try:
            shoot(server.url, out)
        finally:
            server.kill()


def shoot(base_url: str, out: Path) -> None:
    ada = DemoApi.sign_in(base_url, "Ada")
    DemoApi.sign_in(base_url, "Grace")
    map_id = ada.create_map("Launch plan", private=True)["id"]
    ada.ok("POST", f"/api/1/maps/{map_id}/members", {"name": "Grace"})
    for x, y, text, color in BUBBLES:
        ada.ok("POST", f"/api/1/maps/{map_id}/bubbles", {"x": x, "y": y, "text": text, "color": color})
    ada.create_map("Reading list")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**CHROMIUM)
        grace = MapPage(signed_in(browser, base_url, "Grace").new_page(), base_url, map_id, "Grace").open()
        ada_page = MapPage(signed_in(browser, base_url, "Ada").new_page(), base_url, map_id, "Ada").open()
        grace.edit(next(iter(grace.bubbles())), "Ship the outbox (Grace is on it)")
        [undo] = [b.id for b in ada_page.bubbles().values() if b.text.startswith("Undo")]
        ada_page.select(undo)
        ada_page.page.screenshot(path=str(out / "bubblemap-map.png"))
        admin = signed_in(browser, base_url, ADMIN).new_page()
        admin.goto(base_url + "/admin/wsns")
        admin.locator("#refresh[data-state=live]").wait_for()
        admin.screenshot(path=str(out / "bubblemap-admin.png"))
        browser.close()
    for name in ("bubblemap-map.png", "bubblemap-admin.png"):
        print(out / name)


if __name__ == "__main__":
    main()
