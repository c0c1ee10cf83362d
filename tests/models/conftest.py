"""Fixtures for the model tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ai_engine.models.torch_utils import torch_threads


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Small tensors: one thread is fastest, and immune to a busy second core."""
    with torch_threads(1):
        yield
