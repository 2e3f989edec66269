"""How Wayline's log records are written: ``text`` (one readable line) or ``json``
(one object per line, for Loki, Elasticsearch and the like), secrets masked in both.

``wayline serve --log-format`` picks the format; an embedded runtime calls
:func:`configure_logging` once at start-up (instead of ``logging.basicConfig``)::

    from wayline.observability.logging import configure_logging

    configure_logging(format="json", level="INFO")

Every line passes through one redaction (``wayline.cli.errors.redact``): passwords in
URLs (``postgresql://user:***@db``), ``password=`` values and each of the given
secrets (an API token) are masked, in the message, the fields and tracebacks alike.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

from wayline.cli.errors import redact

#: The formats of ``--log-format``.
FORMATS = ("text", "json")

#: The ``text`` format's line (unchanged since before ``--log-format``).
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

#: Record attributes (set with ``extra=``) written as JSON fields when a record has
#: them; a fixed list, so nothing else of a ``LogRecord`` leaks into a line.
FIELDS = (
    "instance_id",
    "workflow_name",
    "status",
    "activity_name",
    "task_id",
    "error_type",
    "node_id",
    "app_id",
    "count",
    "trace_id",
)

#: ``--log-level`` names beyond the standard library's (uvicorn's ``trace``).
_LEVELS = {"trace": 5}


class RedactingFormatter(logging.Formatter):
    """The ``text`` format: ``LEVEL logger: message``, with the traceback (if any) on
    the following lines; secrets masked in all of it."""

    def __init__(self, fmt: str = TEXT_FORMAT, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


class JsonFormatter(logging.Formatter):
    """The ``json`` format: one object per line with ``time`` (RFC 3339, UTC, in
    milliseconds), ``level``, ``logger``, ``message``, the :data:`FIELDS` the record
    carries, and ``exception`` (the traceback) when there is one; secrets masked in
    every string."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def _mask(self, text: str) -> str:
        return redact(text, self._secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": self._mask(record.getMessage()),
        }
        attributes = record.__dict__
        for key in FIELDS:
            value = attributes.get(key)
            if value is None:
                continue
            if not isinstance(value, bool | int | float):
                value = self._mask(str(value))
            entry[key] = value
        if record.exc_info and not record.exc_text:
            # cached, as logging.Formatter does, for the record's other handlers
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = self._mask(record.exc_text)
        if record.stack_info:
            entry["stack"] = self._mask(self.formatStack(record.stack_info))
        return json.dumps(entry)


def formatter(format: str = "text", secrets: Iterable[str] = ()) -> logging.Formatter:
    """The formatter of ``format`` (``text`` or ``json``), masking ``secrets`` too."""
    if format == "json":
        return JsonFormatter(secrets)
    if format == "text":
        return RedactingFormatter(TEXT_FORMAT, secrets)
    raise ValueError(f"unknown log format {format!r}; use one of {', '.join(FORMATS)}")


def level_number(level: str | int) -> int:
    """``"info"``, ``"INFO"``, ``"trace"`` or a number, as a logging level number."""
    if isinstance(level, int):
        return level
    name = level.strip().lower()
    if name in _LEVELS:
        return _LEVELS[name]
    number = logging.getLevelName(name.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def configure_logging(
    format: str = "text",
    level: str | int = "INFO",
    *,
    secrets: Iterable[str | None] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send every log record (Wayline's, uvicorn's, the application's) at ``level`` and
    above to ``stream`` (default stderr) in ``format``, one record per line (``text``:
    a traceback follows on its own lines), with ``secrets`` masked besides URL
    passwords.

    Installs one handler on the root logger and sets its level; calling it again
    replaces the handler it installed before, and leaves other handlers alone.
    Returns the handler.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(format, [s for s in secrets if s]))
    handler.set_name("wayline")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "wayline"]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level_number(level))
    if format == "json":
        logging.captureWarnings(True)  # warnings.warn's lines are records too
    return handler
