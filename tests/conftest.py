"""Shared fixtures: paths to the reference data and small synthetic candle frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synthetic import synthetic_frame

TEST_DATA = Path(__file__).resolve().parent / "data"
"""Small real candle files committed with the tests (tests/data/README.md), so that a fresh
clone passes without the larger reference data that benchmarks use."""
ETH_BTC = TEST_DATA / "crypto" / "ETH_BTC-5m.feather"


@pytest.fixture
def frame() -> pd.DataFrame:
    return synthetic_frame()


@pytest.fixture(scope="session")
def eth_btc_path() -> Path:
    assert ETH_BTC.is_file(), f"reference data missing: {ETH_BTC}"
    return ETH_BTC


SLOW_MODULES = (
    "backtest/test_backtest_cli.py",
    "contract/test_contract_service.py",
    "integrations/test_freqtrade.py",
    "integrations/test_freqtrade_init.py",
    "multi/test_executors.py",
    "multi/test_retrain.py",
    "multi/test_routing.py",
    "multi/test_timeframes.py",
    "safety/test_acceptance.py",
    "safety/test_reservations.py",
    "service/test_bounded_bodies.py",
    "service/test_fuzz.py",
    "service/test_server.py",
    "service/test_stream.py",
    "service/test_tritonclient.py",
    "test_api_docs.py",
    "test_cli.py",
    "test_cli_first_hour.py",
    "test_first_hour_two.py",
    "test_plugins.py",
    "test_readme_commands.py",
    "test_registry_crash.py",
    "ui/test_ui_browser.py",
)
"""The end-to-end modules (real servers, CLI subprocesses, a browser, fuzzing, training through
the CLI), marked ``slow``: `make test` runs them, `make test-fast` (-m "not slow") leaves them
out. A single test elsewhere may carry ``@pytest.mark.slow`` itself."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    slow = {tests / name for name in SLOW_MODULES}
    for item in items:
        if item.path in slow:
            item.add_marker(pytest.mark.slow)
