"""A page of another origin in a real headless Chromium cannot change trading state (issue 23):
a script-free ``<form enctype="text/plain">`` and a ``fetch(..., {mode: "no-cors"})`` with a
``text/plain`` body (both sent without a preflight) to /v1/account and /v1/fills against a real
``ai-engine serve``; the state store is read afterwards and holds no row they made."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser

from ai_engine.safety import StateStore, default_state_url
from service.server import served, wait
from trained import tiny_registry

pytest_plugins = ["ui.test_ui_browser"]  # the Chromium fixture

FILL = {"symbol": "TEST", "side": "BUY", "quantity": 25, "price": 100.0}


def form(action: str, body: dict[str, object]) -> str:
    """A form whose text/plain body is ``body`` as JSON: ``name=value`` with the ``=`` inside
    a string of a key given twice (the JSON reader keeps the last one)."""
    first = next(iter(body))
    text = json.dumps(body)
    name = text[: text.index(f'"{first}"')] + f'"{first}": "'
    value = '", ' + text[text.index(f'"{first}"') :].removeprefix("{")
    return (
        f'<form method="POST" enctype="text/plain" action="{action}">'
        f"<input name='{name}' value='{value}'></form>"
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tiny_registry(tmp_path_factory.mktemp("cross-site") / "registry").root
    with served(root, root.parent / "serve.log") as url:
        wait(lambda: httpx.get(f"{url}/health/ready", timeout=30).status_code == 200)
        yield url, root


@contextmanager
def attacker_site(pages: dict[str, str]) -> Iterator[str]:
    """Another origin on the loopback (``localhost``, its own port) serving ``pages``; a real
    server, as Chromium lets a loopback page reach the loopback service."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def rows(root: Path) -> dict[str, int]:
    store = StateStore(default_state_url(root))
    try:
        with store.read() as conn:
            return {
                name: conn.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
                for name in ("account_snapshots", "fills", "positions")
            }
    finally:
        store.dispose()


def test_the_form_builds_the_json_body() -> None:
    html = form("x", {"equity": 1.0})
    name = html.split("name='")[1].split("'")[0]
    value = html.split("value='")[1].split("'")[0]
    assert json.loads(f"{name}={value}") == {"equity": 1.0}


def test_a_cross_site_page_changes_no_row(browser: Browser, service: tuple[str, Path]) -> None:
    url, root = service
    before = rows(root)
    pages = {
        "/account": form(f"{url}/v1/account", {"equity": 1.0}),
        "/fills": form(f"{url}/v1/fills", FILL),
        "/fetch": "<p>fetching</p>",
    }
    with attacker_site(pages) as attacker:  # another origin than the service's 127.0.0.1
        statuses = attack(browser, attacker, url)
    assert statuses == {"/v1/account": 401, "/v1/fills": 401}, statuses
    # the fetches reached the service too (the browser did not stop them): 401 in its log
    wait(lambda: refused(root.parent / "serve.log") == {"/v1/account": 2, "/v1/fills": 2}, 30)
    assert rows(root) == before


def refused(log: Path) -> dict[str, int]:
    """POSTs answered 401, by path, in the service's JSON log."""
    found: dict[str, int] = {}
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"event":"request"' in line:
            entry = json.loads(line)
            if entry["method"] == "POST" and entry["status"] == 401:
                found[entry["path"]] = found.get(entry["path"], 0) + 1
    return found


def attack(browser: Browser, attacker: str, url: str) -> dict[str, int | None]:
    """Submit the two forms and send the two fetches from ``attacker``'s pages; the forms'
    answer statuses (the fetches' are opaque to the page)."""
    page = browser.new_page()
    statuses = {}
    for path, target in (("/account", "/v1/account"), ("/fills", "/v1/fills")):
        page.goto(f"{attacker}{path}")
        with page.expect_navigation(url=f"{url}{target}") as answer:
            page.evaluate("document.forms[0].submit()")
        response = answer.value
        statuses[target] = None if response is None else response.status
    page.goto(f"{attacker}/fetch")
    for target, body in (("/v1/account", {"equity": 1.0}), ("/v1/fills", FILL)):
        sent = page.evaluate(
            """async ([url, body]) => {
                const r = await fetch(url, {method: "POST", mode: "no-cors",
                    headers: {"Content-Type": "text/plain"}, body: JSON.stringify(body)});
                return r.type;
            }""",
            [f"{url}{target}", body],
        )
        assert sent == "opaque"  # the request went out; the page cannot read the answer
    page.close()
    return statuses
