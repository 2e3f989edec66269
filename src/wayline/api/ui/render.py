"""Jinja2 with autoescaping everywhere, and the filters the templates use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_tag(moment: datetime | None) -> Markup:
    """A ``<time>`` the script shows in the browser's zone; UTC in its title."""
    if moment is None:
        return Markup("<span class=muted>\u2013</span>")
    iso = moment.astimezone(UTC).isoformat()
    text = utc_text(moment)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, text, text)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def seconds_between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start) / timedelta(seconds=1)


def query_string(params: list[tuple[str, str]], **changes: Any) -> str:
    """``params`` with some keys replaced (None: removed), as ``?a=b&...``."""
    kept = [(k, v) for k, v in params if k not in changes]
    for key, value in changes.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            kept.extend((key, str(v)) for v in value)
        else:
            kept.append((key, str(value)))
    return "?" + urlencode(kept) if kept else "?"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("wayline.api.ui", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = time_tag
    env.filters["duration"] = duration_text
    env.globals["query_string"] = query_string
    env.globals["escape"] = escape
    return env
