"""Request id for log records.

The request middleware stores the current request id in a context variable; `RequestIdFilter`
copies it onto every log record so the JSON log lines of one request can be found together.
Log messages carry ids only, never patient data (security.md LOG-01).
"""

from __future__ import annotations

import contextvars
import logging
import time

from pythonjsonlogger.json import JsonFormatter

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def set_request_id(value: str) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


def get_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` (or `-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _request_id.get()
        return True


class UtcJsonFormatter(JsonFormatter):
    """JSON lines with an ISO-8601 UTC timestamp (`2025-03-04T13:00:00.123Z`), whatever the process zone."""

    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging API
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"
