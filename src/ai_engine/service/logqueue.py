"""Log records off the request path: a bounded queue filled by the loggers, a writer thread that
formats and writes them.

A request pays for building its ``LogRecord`` and one ``put_nowait`` (a few µs); the JSON
formatting and the write to stderr happen on the writer thread, which looks at the queue every
``POLL_S`` and writes what it found in one write: no thread is woken per line. The lines are
the ones the synchronous handler wrote (same formatter, same fields, ``ts`` from the record's
creation time).

When the queue is full the record is dropped, never waited for: the request goes on, the drop
is counted (``ai_engine_log_records_dropped_total`` on /metrics) and, once the queue has
drained, the writer says how many it lost in one warning line (``event: log_dropped``). At a
graceful stop the app's shutdown drains the queue and ends the writer; the few lines logged
after it (uvicorn's last two) are written as they come.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Iterator
from logging.handlers import QueueHandler, QueueListener
from typing import IO, Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

LOG_QUEUE_SIZE = 10_000
"""Records waiting to be written at most; ~2 MB of records, 100 s of lines at 100 req/s."""
MAX_LINES_PER_WRITE = 256
POLL_S = 0.02
"""How long the writer sleeps on an empty queue: lines reach the stream within ~20 ms."""


class DroppingQueueHandler(QueueHandler):
    """Put records on a bounded queue as they are; a full queue drops the record and counts it."""

    def __init__(self, records: queue.Queue[Any]) -> None:
        super().__init__(records)
        self.records = records
        self.dropped = 0
        """Records dropped because the queue was full, since the handler was made."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record itself, not a formatted copy (the writer formats). Arguments and an
        exception are rendered here, while the objects they refer to are as logged."""
        if record.args:
            record.msg, record.args = record.getMessage(), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        """Never blocks: a full queue drops the record."""
        try:
            self.records.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class LinesHandler(logging.StreamHandler[IO[str]]):
    """Format each record into a buffer; ``flush`` writes the buffered lines in one write."""

    def __init__(self, stream: IO[str], formatter: logging.Formatter) -> None:
        super().__init__(stream)
        self.setFormatter(formatter)
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + self.terminator)
        except Exception:  # logging's contract: report, never raise
            self.handleError(record)
        if len(self._lines) >= MAX_LINES_PER_WRITE:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        text, self._lines = "".join(self._lines), []
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed stream (test capture, broken pipe): lost
            pass


class LogWriter(QueueListener):
    """The writer thread: takes records off the queue, formats them, writes when it runs dry."""

    def __init__(self, source: DroppingQueueHandler, target: LinesHandler) -> None:
        super().__init__(source.queue, target)
        self.source, self.target, self.records = source, target, source.records
        self._reported = 0

    def dequeue(self, block: bool) -> Any:
        """The next record; on an empty queue, write what is buffered and look again after
        ``POLL_S``. The writer never waits on the queue itself, so a request's ``put`` wakes no
        thread, and lines are written in batches (a wake-up and a write per line cost the
        request thread GIL hand-overs and the process a syscall per request)."""
        while True:
            try:
                return self.records.get_nowait()
            except queue.Empty:
                self._report_drops()
                self.target.flush()
                if not block:
                    raise
                time.sleep(POLL_S)

    def handle(self, record: Any) -> None:
        if isinstance(record, threading.Event):  # a flush request (see ``flush``)
            self._report_drops()
            self.target.flush()
            record.set()
            return
        self.target.handle(record)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every record queued before this call is written; False on timeout."""
        if self._thread is None:
            return True
        done = threading.Event()
        try:
            self.records.put(done, timeout=timeout_s)
        except queue.Full:
            return False
        return done.wait(timeout_s)

    def stop(self) -> None:
        """Write everything queued, then end the thread (left running, a daemon, if the queue
        refills faster than it drains)."""
        if self._thread is not None:
            try:
                if not self.flush():
                    return
                super().stop()
            except queue.Full:  # the thread still runs: it owns the buffer
                return
        self._report_drops()
        self.target.flush()

    def _report_drops(self) -> None:
        dropped = self.source.dropped
        if dropped == self._reported:
            return
        record = logging.makeLogRecord(
            {
                "name": "ai_engine.service",
                "levelno": logging.WARNING,
                "levelname": "WARNING",
                "msg": "log records dropped: the log queue was full",
                "event": "log_dropped",
                "dropped": dropped - self._reported,
                "dropped_total": dropped,
            }
        )
        self._reported = dropped
        self.target.handle(record)


_writer: LogWriter | None = None
_loggers: list[logging.Logger] = []
"""The loggers fed by the writer's queue (``start_writer``)."""
_dropped_before = 0
"""Records dropped by the writers replaced so far (the metric never goes down)."""
_lock = threading.Lock()


def start_writer(
    loggers: list[logging.Logger],
    stream: IO[str],
    formatter: logging.Formatter,
    size: int = LOG_QUEUE_SIZE,
) -> None:
    """Give ``loggers`` a queue handler fed to a new writer thread that formats with
    ``formatter`` onto ``stream``; the writer started before is drained and stopped, and the
    loggers' handlers with a formatter of the same type (synchronous ones) are removed."""
    global _writer, _loggers
    with _lock:
        _stop_locked()
        handler = DroppingQueueHandler(queue.Queue(size))
        _writer = LogWriter(handler, LinesHandler(stream, formatter))
        _writer.start()
        _swap_handlers(loggers, handler, formatter)
        _loggers = list(loggers)


def flush_logs(timeout_s: float = 5.0) -> bool:
    """Wait until the records logged so far are written; False on timeout."""
    writer = _writer
    return writer.flush(timeout_s) if writer is not None else True


def stop_writer() -> None:
    """Drain the queue, end the writer thread, and have its loggers write each record as it
    comes from now on. The app's shutdown calls it: uvicorn's last lines, logged after it, are
    then written before uvicorn re-raises SIGTERM (which ends the process without ``atexit``)."""
    with _lock:
        _stop_locked()


def _stop_locked() -> None:
    global _writer, _dropped_before
    writer = _writer
    if writer is None:
        return
    writer.stop()
    _dropped_before += writer.source.dropped
    _writer = None
    direct = logging.StreamHandler(writer.target.stream)
    direct.setFormatter(writer.target.formatter)
    _swap_handlers(_loggers, direct, writer.target.formatter)


def _swap_handlers(
    loggers: list[logging.Logger], handler: logging.Handler, formatter: logging.Formatter | None
) -> None:
    """Replace the log-queue handlers and those formatting as ``formatter`` with ``handler``."""
    kind = type(formatter)
    for logger in loggers:
        logger.handlers = [
            h
            for h in logger.handlers
            if not isinstance(h, DroppingQueueHandler) and type(h.formatter) is not kind
        ]
        logger.addHandler(handler)


atexit.register(stop_writer)  # exits without a signal; before logging's own shutdown


class DroppedLogRecords(Collector):
    """``ai_engine_log_records_dropped_total``: records the full log queue dropped (this
    process), read when /metrics is scraped (nothing on the request path)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        writer = _writer
        yield CounterMetricFamily(
            "ai_engine_log_records_dropped",
            "Log records dropped because the log queue was full (never waited for).",
            value=_dropped_before + (writer.source.dropped if writer is not None else 0),
        )
