"""``open_store`` URL forms (SQLite), and the PostgreSQL param's skip-or-fail rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from wayline.errors import StoreError
from wayline.store import open_store
from wayline.store.sqlite import SqliteStore

from ._support import create
from .conftest import POSTGRES_URL_VAR, open_postgres_for_tests


def _roundtrip(url: str | Path, reopen: str | Path | None = None) -> None:
    """A store opened from ``url`` keeps an instance that ``reopen`` (or ``url``) sees."""
    store = open_store(url)
    assert isinstance(store, SqliteStore)
    create(store, "a")
    store.close()
    again = open_store(reopen if reopen is not None else url)
    try:
        assert again.get_instance("a") is not None
    finally:
        again.close()


def test_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _roundtrip("sqlite:///rel.db", reopen=tmp_path / "rel.db")
    assert (tmp_path / "rel.db").is_file()


def test_relative_sqlite_url_with_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    _roundtrip("sqlite:///data/w.db")
    assert (tmp_path / "data" / "w.db").is_file()


def test_absolute_sqlite_url_has_four_slashes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'abs.db'}"
    assert url.startswith("sqlite:////")
    _roundtrip(url, reopen=str(tmp_path / "abs.db"))


@pytest.mark.parametrize("as_path", [False, True], ids=["str", "Path"])
def test_plain_path(tmp_path: Path, as_path: bool) -> None:
    target = tmp_path / "plain.db"
    _roundtrip(target if as_path else str(target))
    assert target.is_file()


def test_default_url_is_wayline_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    open_store().close()
    assert (tmp_path / "wayline.db").is_file()


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite:///:memory:", ":memory:"])
def test_in_memory_stores_are_private_and_leave_no_file(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    one, two = open_store(url), open_store(url)
    try:
        create(one, "a")
        assert one.get_instance("a") is not None
        assert two.get_instance("a") is None
    finally:
        one.close()
        two.close()
    assert list(tmp_path.iterdir()) == []


def test_a_store_object_is_returned_unchanged(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    try:
        assert open_store(store) is store
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    ["mysql://user@host/db", "redis://localhost", "sqlite://relative.db", "sqlite://", "file:///x"],
)
def test_unusable_urls_raise_store_error(url: str) -> None:
    with pytest.raises(StoreError):
        open_store(url)


def test_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("these are not the tables you are looking for\n" * 20)
    with pytest.raises(StoreError, match=r"notes\.txt"):
        open_store(bogus)


def test_missing_directory_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        open_store(tmp_path / "no" / "such" / "dir" / "w.db")


def test_file_database_uses_wal(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "w.db")
    try:
        with store.read() as cur:
            cur.execute("PRAGMA journal_mode")
            assert cur.fetchone()[0] == "wal"
    finally:
        store.close()


# ----- the PostgreSQL param of the contract suite ------------------------------------------

# Nothing listens on port 1: a URL that names a server which does not answer.
_DEAD_SERVER = "postgresql://wayline@127.0.0.1:1/wayline_test"


def test_postgres_param_skips_without_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_URL_VAR, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        open_postgres_for_tests()


def test_postgres_param_fails_without_a_url_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI is meant to test both backends: a missing URL is a broken CI, not a skip.
    monkeypatch.delenv(POSTGRES_URL_VAR, raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        open_postgres_for_tests()


def test_postgres_param_skips_when_the_server_does_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(POSTGRES_URL_VAR, _DEAD_SERVER)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        open_postgres_for_tests()


@pytest.mark.parametrize("ci", ["true", "TRUE", "1"])
def test_postgres_param_fails_in_ci_when_the_server_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv(POSTGRES_URL_VAR, _DEAD_SERVER)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        open_postgres_for_tests()


def test_synchronous_mode_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(tmp_path / "w.db", synchronous="sometimes")
    store = SqliteStore(tmp_path / "w.db", synchronous="full")
    try:
        with store.read() as cur:
            cur.execute("PRAGMA synchronous")
            assert cur.fetchone()[0] == 2  # FULL
    finally:
        store.close()
