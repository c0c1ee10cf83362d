"""The operator page in a real headless Chromium (Debian's, driven by Playwright) against a
real ``ai-engine serve``: no console errors, the ESS state shown, a trip from the page lands
in the state store, EXTERNAL positions shown apart, and a screenshot kept as an artifact."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from ai_engine.safety import StateStore, default_state_url, ess
from contract.helpers import signal_request
from service.helpers import ADMIN, ADMIN_TOKEN, TRADER
from service.server import served, wait
from trained import tiny_registry

CHROMIUM = os.environ.get("AI_ENGINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).is_file(), f"expected Chromium at {CHROMIUM} (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tiny_registry(tmp_path_factory.mktemp("ui") / "registry").root
    with served(root, root.parent / "serve.log") as url:
        wait(lambda: httpx.get(f"{url}/health/ready", timeout=30).status_code == 200)
        yield url, root


def watched(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of ``page``, collected as they happen."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots are kept: $AI_ENGINE_TEST_ARTIFACTS, else pytest's base temp folder
    (kept for the last three runs)."""
    folder = os.environ.get("AI_ENGINE_TEST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.getbasetemp() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_operator_page_shows_the_engine_and_trips_the_ess(
    browser: Browser, service: tuple[str, Path], artifacts: Path
) -> None:
    url, root = service
    signal = httpx.post(f"{url}/v1/signal", json=signal_request(), timeout=60)
    assert signal.status_code == 200, signal.text
    report = {"positions": [{"symbol": "TEST", "quantity": 1.5, "price": 100.0}]}
    reported = httpx.post(f"{url}/v1/positions", json=report, timeout=10, headers=TRADER)
    assert reported.status_code == 200, reported.text
    proposal = httpx.post(
        f"{url}/v1/risk/proposal",
        json={**signal_request(), "equity": 10_000, "position": 5.0, "owner": "strat-a"},
        timeout=60,
        headers=ADMIN,  # the admin key proposes for any owner
    )
    assert proposal.status_code == 200, proposal.text
    release = httpx.get(f"{url}/v1/models", timeout=10).json()["served"]["release"]

    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    problems = watched(page)
    answer = page.goto(f"{url}/ui?refresh=1")
    assert answer is not None and answer.status == 200
    assert answer.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    assert page.get_by_test_id("ess-state").inner_text() == "ACTIVE"
    assert page.get_by_test_id("release-id").inner_text() == release
    assert page.get_by_test_id("members").locator("tbody tr").count() == 4
    assert page.get_by_test_id("edge").inner_text()
    assert "EXTERNAL" in page.get_by_test_id("external").inner_text()
    assert page.get_by_test_id("owned").inner_text() == "no owned positions"
    assert signal.json()["action"] in page.get_by_test_id("signals").inner_text()
    proposals = page.get_by_test_id("proposals").inner_text()
    assert "strat-a" in proposals and proposal.json()["status"] in proposals
    assert page.get_by_test_id("exposure").inner_text()

    page.fill("#admin-token", ADMIN_TOKEN)
    page.fill("#ess-reason", "drill from the operator page")
    page.click("#trip")
    page.get_by_test_id("ess-result").filter(has_text="trip: ESS HALTED").wait_for(timeout=10_000)
    page.get_by_test_id("ess-state").filter(has_text="HALTED").wait_for(timeout=10_000)

    store = StateStore(default_state_url(root))
    try:
        stored = store_state(store)
    finally:
        store.dispose()
    assert stored == ("HALTED", "drill from the operator page", "admin")  # the key's identity

    page.wait_for_timeout(1500)  # one automatic refresh of the panels
    assert page.locator("#updated").inner_text() != "at render"
    shot = artifacts / "operator-page.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"operator page screenshot: {shot.resolve()}")
    assert shot.stat().st_size > 10_000
    assert problems == []
    page.close()


def store_state(store: StateStore) -> tuple[str, str, str]:
    """The ESS as the state store holds it: state, reason, actor."""
    with store.read() as conn:
        status = ess.read(conn)
    return status.state, status.reason, status.actor


def test_trip_and_reset_are_disabled_without_an_admin_token(
    browser: Browser, tmp_path: Path
) -> None:
    root = tiny_registry(tmp_path / "registry").root
    no_token = {"AI_ENGINE_ADMIN_TOKEN": ""}
    with served(root, tmp_path / "serve.log", env_changes=no_token) as url:
        page = browser.new_page()
        problems = watched(page)
        page.goto(f"{url}/ui")
        assert page.locator("#trip").is_disabled() and page.locator("#reset").is_disabled()
        assert "disabled" in page.get_by_test_id("admin-note").inner_text()
        assert page.get_by_test_id("ess-state").inner_text() == "ACTIVE"
        assert problems == []
        page.close()
