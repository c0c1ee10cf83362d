"""The operator page's charts in real headless Chromium against a real ``ai-engine serve`` with a
trained release, an account, fills of two owners, and a tripped-then-reset ESS: each chart has
the number of marks the JSON routes say, the HOLD reason is on the marker's hover title, no
request leaves the service's origin, and the charts render with JavaScript disabled too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request

from contract.helpers import signal_request
from service.helpers import ADMIN_TOKEN, TRADER
from service.server import served, wait
from trained import tiny_registry
from ui.test_ui_browser import artifacts, browser, watched  # noqa: F401 (fixtures)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tiny_registry(tmp_path_factory.mktemp("charts") / "registry").root
    with served(root, root.parent / "serve.log") as url:
        wait(lambda: httpx.get(f"{url}/health/ready", timeout=30).status_code == 200)
        client = httpx.Client(base_url=url, headers=AUTH, timeout=60)
        signal = client.post("/v1/signal", json=signal_request())
        assert signal.status_code == 200, signal.text
        for equity in (10_000.0, 10_400.0, 9_800.0):
            assert client.post("/v1/account", json={"equity": equity}).status_code == 200
        fills = [
            {"symbol": "TEST", "side": "BUY", "quantity": 1.0, "price": 100.0, "owner": "strat-a"},
            {"symbol": "TEST", "side": "BUY", "quantity": 2.0, "price": 100.0, "owner": "strat-b"},
            {"symbol": "TEST", "side": "SELL", "quantity": 1.0, "price": 104.0, "owner": "strat-b"},
        ]
        for fill in fills:
            answer = client.post("/v1/fills", json=fill)
            assert answer.status_code == 200, answer.text
        # the engine's bot reports a position no proposal opened: EXTERNAL (a trader key's
        # report settles its own owner's positions only: strat-a's and strat-b's stay)
        external = {"positions": [{"symbol": "TEST", "quantity": 0.5, "price": 101.0}]}
        answer = client.post("/v1/positions", json=external, headers=TRADER)
        assert answer.status_code == 200, answer.text
        for action in ("trip", "reset"):
            answer = client.post(f"/v1/ess/{action}", json={"reason": f"drill {action}"})
            assert answer.status_code == 200, answer.text
        yield {
            "url": url,
            "signal": signal.json(),
            "account": client.get("/v1/account").json(),
            "fills": client.get("/v1/fills").json()["fills"],
            "ess": client.get("/v1/ess", params={"transitions": 50}).json(),
            "status": client.get("/v1/status").json(),
            "limits": client.get("/v1/limits").json()["limits"],
            "positions": client.get("/v1/positions").json(),
            "models": client.get("/v1/models").json(),
        }
        client.close()


def count(page: Page, selector: str) -> int:
    return page.locator(selector).count()


def test_each_chart_has_the_marks_the_json_routes_say(
    browser: Browser,  # noqa: F811
    state: dict[str, Any],
    artifacts: Path,  # noqa: F811
) -> None:
    url = state["url"]
    page = browser.new_page(viewport={"width": 1280, "height": 2400})
    problems = watched(page)
    foreign: list[str] = []

    def outside(request: Request) -> None:
        if not request.url.startswith(url) and not request.url.startswith("data:"):
            foreign.append(request.url)

    page.on("request", outside)
    assert page.goto(f"{url}/ui?refresh=2") is not None
    candles = page.get_by_test_id("chart-candles")
    assert candles.locator(".candle").count() == 60  # the newest 60 of the 256 sent
    assert candles.locator(".fan").count() == 1
    marker = candles.locator(".marker")
    assert marker.count() == 1
    signal = state["signal"]
    title = marker.locator("title").text_content() or ""
    assert title.startswith(signal["action"])
    if signal["action"] == "HOLD":
        assert f"({signal['reason']})" in title  # the HOLD reason, shown on hover
    verdict = page.get_by_test_id("verdict").inner_text()
    assert ("NO EDGE" in verdict) != bool(signal["edge"].get("enabled"))

    account = state["account"]
    equity_points = page.locator('[data-testid="chart-equity"] .point[data-name="equity"]')
    assert equity_points.count() == len(account["curve"])
    drawdown = page.get_by_test_id("chart-drawdown")
    assert drawdown.locator(".level").count() == 1  # the ESS max_drawdown line
    assert page.get_by_test_id("chart-fills").locator(".event").count() == len(state["fills"])
    owners = {p["owner"] for p in state["positions"]["positions"]}
    assert owners == {"strat-a", "strat-b"}
    assert page.get_by_test_id("pnl-row").count() == 3  # strat-a, strat-b and EXTERNAL
    assert "strat-b" in page.get_by_test_id("pnl").inner_text()
    shown = {o.inner_text() for o in page.get_by_test_id("owned").get_by_test_id("owner").all()}
    assert shown == owners
    assert "EXTERNAL" in page.get_by_test_id("external").inner_text()
    assert len(state["positions"]["external"]) == 1

    served = state["models"]["served"]
    assert page.get_by_test_id("release-id").inner_text() == served["release"]
    weights = page.get_by_test_id("weights-row")
    assert weights.count() == len(served["members"])
    per_horizon = served["combination"]["per_horizon"]
    first = weights.nth(0).locator("td")
    assert first.nth(0).inner_text() in per_horizon
    assert first.count() == 1 + len(next(iter(per_horizon.values())))

    transitions = state["ess"]["transitions"]
    assert page.get_by_test_id("chart-ess").locator(".event").count() == len(transitions)
    bars = page.get_by_test_id("chart-exposure").locator(".bar")
    assert bars.count() == 4
    gross = sum(abs(p["fraction"]) for p in account["positions"])
    assert float(bars.nth(0).get_attribute("data-value") or "nan") == pytest.approx(gross, 1e-5)
    assert float(bars.nth(0).get_attribute("data-limit") or "nan") == state["limits"]["max_gross"]
    assert len(state["status"]["reservations"]) == int(
        page.get_by_test_id("reservations").inner_text().split()[0]
    )

    page.screenshot(path=str(artifacts / "operator-charts-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(2500)  # a refresh of the panels at phone width
    page.screenshot(path=str(artifacts / "operator-charts-390.png"), full_page=True)
    assert page.get_by_test_id("chart-candles").bounding_box()["width"] <= 390  # type: ignore[index]
    assert foreign == [] and problems == []
    page.close()


def test_the_charts_render_with_javascript_disabled(
    browser: Browser,  # noqa: F811
    state: dict[str, Any],
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{state['url']}/ui")
    assert page.get_by_test_id("chart-candles").locator(".candle").count() == 60
    assert page.get_by_test_id("chart-exposure").locator(".bar").count() == 4
    assert page.get_by_test_id("ess-state").inner_text() == "ACTIVE"
    context.close()
