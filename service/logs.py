"""Structured logs: one JSON object per line, with job and tenant ids, never personal data.

Only a fixed set of ``extra`` fields is written (ids, states, counts, timings): a record
cannot carry a round, a name or a home location into the log by accident.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

FIELDS = ("job_id", "tenant", "round_pk", "attempt", "state", "status", "objective",
          "owner", "pid", "exit_code", "method", "path", "status_code", "duration_ms",
          "error_type", "count", "warm")
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


def configure_logging(level: str = "INFO") -> None:
    """Send every log record of this process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
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
