"""Server logging: text or one JSON object per line, with the current request id."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

from rehost.config import LOG_FORMATS, LOG_LEVELS

REQUEST_ID: ContextVar[str] = ContextVar("rehost_request_id", default="")
_TEXT = "%(asctime)s %(levelname)s %(name)s%(request_id_part)s: %(message)s"
_EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "client")


class RequestIdFilter(logging.Filter):
    """Stamps every record with the request id of the context it is logged from."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` (and its text form) to the record."""
        request_id = REQUEST_ID.get()
        record.request_id = request_id
        record.request_id_part = f" [{request_id}]" if request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, access fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record."""
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "")
        if request_id:
            doc["request_id"] = request_id
        for name in _EXTRA_FIELDS:
            if hasattr(record, name):
                doc[name] = getattr(record, name)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(*, log_format: str = "text", log_level: str = "info") -> None:
    """Route the root logger (and uvicorn's) to stderr in the chosen format and level."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    if log_level not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
