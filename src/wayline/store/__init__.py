"""Storage: the ``Store`` protocol and its backends."""

from __future__ import annotations

from pathlib import Path

from wayline.errors import StoreError
from wayline.store.base import Store

DEFAULT_STORE_URL = "sqlite:///wayline.db"


def open_store(url: str | Path | Store | None = None) -> Store:
    """Open a store from a URL: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
    ``sqlite://:memory:``, a plain file path, or ``postgresql://...``.

    A ``Store`` object is returned unchanged.
    """
    if url is None:
        url = DEFAULT_STORE_URL
    if not isinstance(url, str | Path):
        return url
    text = str(url)
    if text.startswith("sqlite://"):
        from wayline.store.sqlite import SqliteStore

        path = text[len("sqlite://") :]
        if path in (":memory:", "/:memory:"):
            return SqliteStore(":memory:")
        if not path.startswith("/"):
            raise StoreError(
                f"bad SQLite URL {text!r}; use sqlite:///file.db or sqlite:////abs/file.db"
            )
        return SqliteStore(path[1:] or DEFAULT_STORE_URL[len("sqlite:///") :])
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
            f"unknown store URL {text!r}; use sqlite:///path.db or postgresql://user@host/db"
        )
    from wayline.store.sqlite import SqliteStore

    return SqliteStore(text)


__all__ = ["DEFAULT_STORE_URL", "Store", "StoreError", "open_store"]
