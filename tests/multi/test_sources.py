"""Multi-symbol candle sources: folders and lists, validated file by file; errors name the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ai_engine.errors import DataValidationError
from ai_engine.multi.sources import by_timeframe, load_sources
from ai_engine.multi.tasks import make_tasks
from multi.pairs import PLAN, write_pairs


def test_a_folder_gives_one_source_per_file_grouped_by_timeframe(pairs: Path) -> None:
    sources, warnings = load_sources([pairs])
    assert [s.candles.symbol for s in sources] == ["ADA_BTC", "ETH_BTC"]
    assert warnings == []
    assert list(by_timeframe(sources)) == ["5m"]
    (task,) = make_tasks(sources, "reg", PLAN, promote="production")
    assert task["model_set"] == "multi-5m" and task["promote_to"] == "production@multi-5m"
    assert len(make_tasks(sources, "reg", PLAN, group_by="symbol")) == 2


def test_a_bad_file_among_good_ones_is_refused_by_name(pairs: Path) -> None:
    bad = pairs / "XRP_BTC-5m.feather"
    frame = pd.read_feather(pairs / "ETH_BTC-5m.feather")
    frame.loc[300, "high"] = frame.loc[300, "low"] / 2
    frame.to_feather(bad)
    with pytest.raises(DataValidationError, match=r"XRP_BTC-5m\.feather: expected high >= low"):
        load_sources([pairs])


def test_the_same_symbol_twice_names_both_files(tmp_path: Path) -> None:
    write_pairs(tmp_path / "a", 600, ("ETH_BTC",))
    write_pairs(tmp_path / "b", 600, ("ETH_BTC",))
    with pytest.raises(DataValidationError, match=r"b/ETH_BTC-5m.feather.*also in.*a/ETH_BTC"):
        load_sources([tmp_path / "a", tmp_path / "b"])


def test_a_file_too_short_to_train_is_named_or_skipped_with_min_bars(tmp_path: Path) -> None:
    write_pairs(tmp_path, 150, ("ADA_BTC",))
    write_pairs(tmp_path, 600, ("ETH_BTC",))
    with pytest.raises(DataValidationError, match=r"ADA_BTC-5m\.feather: expected at least 213"):
        load_sources([tmp_path])
    sources, warnings = load_sources([tmp_path], min_bars=500)
    assert [s.candles.symbol for s in sources] == ["ETH_BTC"]
    assert "ADA_BTC-5m.feather: skipped, 150 bars" in warnings[0]


def test_an_empty_folder_and_a_missing_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="found none"):
        load_sources([tmp_path])
    with pytest.raises(DataValidationError, match="nope.csv: expected a candle file or a folder"):
        load_sources([tmp_path / "nope.csv"])
