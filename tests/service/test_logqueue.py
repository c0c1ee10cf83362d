"""Log lines off the request path: same lines as the synchronous handler, drops counted and never
waited for, everything written at a graceful stop (a real ``ai-engine serve``)."""

from __future__ import annotations

import io
import json
import logging
import queue
import sys
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from ai_engine.service.logqueue import (
    DroppedLogRecords,
    DroppingQueueHandler,
    LinesHandler,
    LogWriter,
)
from ai_engine.service.observability import JsonFormatter
from service.helpers import signal_body
from service.server import served, wait_ready

REQUEST_FIELDS = {
    "ts",
    "level",
    "logger",
    "msg",
    "event",
    "method",
    "path",
    "route",
    "status",
    "latency_ms",
    "release",
}
"""The keys of a request line before the queue (read off a c957850 server's log)."""


def _writer(size: int) -> tuple[logging.Logger, DroppingQueueHandler, LogWriter, io.StringIO]:
    out = io.StringIO()
    handler = DroppingQueueHandler(queue.Queue(size))
    logger = logging.getLogger(f"test_logqueue.{id(out)}")
    logger.propagate, logger.handlers = False, [handler]
    logger.setLevel(logging.INFO)
    return logger, handler, LogWriter(handler, LinesHandler(out, JsonFormatter())), out


def _records() -> list[logging.LogRecord]:
    """A request-like record, one with arguments, one with an exception."""
    logger = logging.getLogger("ai_engine.service")
    made = [
        logger.makeRecord(logger.name, logging.INFO, "f", 1, "request", (), None, "g", {"a": 1}),
        logger.makeRecord(logger.name, logging.INFO, "f", 1, "%s of %d", ("two", 2), None),
    ]
    try:
        raise ValueError("boom")
    except ValueError:
        made.append(
            logger.makeRecord(logger.name, logging.ERROR, "f", 1, "failed", (), sys.exc_info())
        )
    return made


def test_the_queued_lines_are_the_synchronous_lines() -> None:
    records = _records()
    expected = [JsonFormatter().format(logging.makeLogRecord(vars(r))) for r in records]
    _, handler, writer, out = _writer(100)
    writer.start()
    for record in records:
        handler.handle(record)
    assert writer.flush()
    writer.stop()
    assert out.getvalue().splitlines() == expected
    assert '"exc":"Traceback' in expected[2] and '"msg":"two of 2"' in expected[1]


def test_a_full_queue_drops_and_counts_without_waiting() -> None:
    logger, handler, writer, out = _writer(2)  # the writer is not running: nothing drains
    start = time.perf_counter()
    for k in range(50):
        logger.info("line %d", k)
    assert time.perf_counter() - start < 1.0  # never blocked on the full queue
    assert handler.dropped == 48
    writer.start()  # it catches up: two lines, then one warning with the count
    assert writer.flush()
    writer.stop()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [x["msg"] for x in lines[:2]] == ["line 0", "line 1"]
    assert lines[2]["event"] == "log_dropped" and lines[2]["dropped"] == 48
    assert len(lines) == 3


def test_dropped_records_are_a_counter_in_the_metrics() -> None:
    registry = CollectorRegistry()
    registry.register(DroppedLogRecords())
    assert "ai_engine_log_records_dropped_total" in generate_latest(registry).decode()


def test_a_real_server_logs_the_same_fields_and_its_last_lines(
    registry_copy: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with served(registry_copy, log) as url:
        wait_ready(url)
        for _ in range(5):
            assert httpx.post(f"{url}/v1/signal", json=signal_body(), timeout=60).status_code == 200
        metrics = httpx.get(f"{url}/metrics").text
        assert "ai_engine_log_records_dropped_total 0.0" in metrics
        assert httpx.get(f"{url}/v1/models", timeout=60).status_code == 200  # the last request
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    requests = [x for x in lines if x.get("event") == "request"]
    assert all(set(x) == REQUEST_FIELDS for x in requests)
    assert sum(x["route"] == "/v1/signal" and x["status"] == 200 for x in requests) == 5
    assert requests[-1]["path"] == "/v1/models"  # written although the process was stopped
    assert lines[-1]["msg"].startswith("Finished server process")  # uvicorn's very last line
