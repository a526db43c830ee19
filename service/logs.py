"""Structured logs: one JSON object per line, with job and tenant ids, never personal data.

Only a fixed set of ``extra`` fields is written (ids, states, counts, timings): a record
cannot carry a round, a name or a home location into the log by accident.

Nothing else reaches stderr as plain text: warnings go through logging, uncaught exceptions
(of the main thread and of other threads) are logged with their type only, and whatever is
still written to ``sys.stderr`` directly (a traceback printed by :mod:`multiprocessing` when
a child process fails, a library's ``print``) is wrapped line by line in JSON, an
exception's message cut to its type.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import time
from types import TracebackType
from typing import Any

FIELDS = ("job_id", "tenant", "round_pk", "attempt", "state", "status", "objective",
          "owner", "pid", "exit_code", "method", "path", "status_code", "duration_ms",
          "error_type", "count", "warm", "reason", "elapsed_s", "rss_mib", "pool")
"""Record attributes copied into the JSON line when present."""


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (UTC time, level, logger, message, known fields)."""

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line of ``record``."""
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages may quote data.
            out["exception"] = record.exc_info[0].__name__
        return json.dumps(out, default=str)


_EXCEPTION_LINE = re.compile(r"^([\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b)\s*:.*$")
log = logging.getLogger("service")


class JsonStderr(io.TextIOBase):
    """A stand-in for ``sys.stderr``: each line written becomes one JSON line on the real
    stream (logger ``stderr``); the line of an exception's message keeps only its type and
    a traceback's source lines are left out."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        """Buffer ``text``; write each complete line as JSON."""
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            # A traceback's frames stay; its source lines (indented 4) and an exception's
            # message (it may quote data) do not.
            if line.strip() and not line.startswith("    "):
                line = _EXCEPTION_LINE.sub(r"\1", line.rstrip())[:300]
                self.stream.write(json.dumps({
                    "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "level": "error", "logger": "stderr", "msg": line}) + "\n")
        self.stream.flush()
        return len(text)

    def flush(self) -> None:
        """Flush the real stream."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Never a terminal: what is written is JSON."""
        return False


def _uncaught(kind: type[BaseException], exc: BaseException,
              tb: TracebackType | None) -> None:
    log.critical("uncaught exception", exc_info=(kind, exc, tb))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        log.error("uncaught exception in a thread", exc_info=(
            args.exc_type, args.exc_value, args.exc_traceback))


def configure_logging(level: str = "INFO") -> None:
    """Send every log record of this process to stderr as JSON lines, and nothing else
    (see the module's docstring)."""
    real = sys.stderr.stream if isinstance(sys.stderr, JsonStderr) else sys.stderr
    handler = logging.StreamHandler(real)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        # Ours from an earlier call, or a plain console handler (the command line's
        # basicConfig): every line on stderr must be JSON. Capturing handlers (pytest's)
        # are subclasses and stay.
        if isinstance(old.formatter, JsonFormatter) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # The access log is written by the service itself, with the tenant.
    logging.getLogger("uvicorn.access").disabled = True
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    sys.stderr = JsonStderr(real)
