"""Storage: the ``Store`` protocol and its backends."""

from __future__ import annotations

import re
from pathlib import Path

from wayline.errors import StoreError
from wayline.store.base import Store

DEFAULT_STORE_URL = "sqlite:///wayline.db"


def redact_url(url: str) -> str:
    """The URL without its password (``user:password@`` or ``?password=``), for
    messages: stores never show one."""
    url = re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url, flags=re.IGNORECASE)


def describe_store(store: Store) -> str:
    """The store, as its URL without a password, for log lines."""
    url = getattr(store, "url", None)
    if isinstance(url, str):
        return redact_url(url)
    path = getattr(store, "path", None)
    if isinstance(path, str):
        return "sqlite://:memory:" if path == ":memory:" else f"sqlite:///{path}"
    return type(store).__name__


def open_store(url: str | Path | Store | None = None) -> Store:
    """Open a store from a URL: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
    ``sqlite://:memory:``, a plain file path, or ``postgresql://...``.

    SQLite takes one option: ``?synchronous=full`` (the default: every commit is
    fsynced, so nothing accepted is lost even to a power loss) or
    ``?synchronous=normal`` (faster; survives a killed process, but a power loss or
    OS crash can lose the last commits). A ``Store`` object is returned unchanged.
    """
    if url is None:
        url = DEFAULT_STORE_URL
    if not isinstance(url, str | Path):
        return url
    text = str(url)
    if text.startswith("sqlite://"):
        from wayline.store.sqlite import SqliteStore

        path, options = _sqlite_options(text)
        if path in (":memory:", "/:memory:"):
            return SqliteStore(":memory:", **options)
        if not path.startswith("/"):
            raise StoreError(
                f"bad SQLite URL {text!r}; use sqlite:///file.db or sqlite:////abs/file.db"
            )
        return SqliteStore(path[1:] or DEFAULT_STORE_URL[len("sqlite:///") :], **options)
    if text.startswith(("postgresql://", "postgres://")):
        try:
            from wayline.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                f"the PostgreSQL backend needs psycopg 3 ({exc}); install it with "
                "pip install 'wayline[postgres]'"
            ) from exc
        return PostgresStore(text)
    if "://" in text:
        raise StoreError(
            f"unknown store URL {redact_url(text)!r}; use sqlite:///path.db or postgresql://user@host/db"
        )
    from wayline.store.sqlite import SqliteStore

    return SqliteStore(text)


_SQLITE_SYNCHRONOUS = ("full", "normal", "extra")


def _sqlite_options(url: str) -> tuple[str, dict[str, str]]:
    """The path of a ``sqlite://`` URL and its store options (``?synchronous=...``)."""
    path, _, query = url[len("sqlite://") :].partition("?")
    options: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        if key != "synchronous":
            raise StoreError(
                f"unknown SQLite URL option {key!r} in {url!r}; the only option is "
                "synchronous=full|normal"
            )
        if value.lower() not in _SQLITE_SYNCHRONOUS:
            raise StoreError(
                f"bad synchronous={value!r} in {url!r}; use full (the default: survives "
                "power loss) or normal (survives a killed process only)"
            )
        options["synchronous"] = value
    return path, options


__all__ = ["DEFAULT_STORE_URL", "Store", "StoreError", "open_store"]
