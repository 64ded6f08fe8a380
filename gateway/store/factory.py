"""Open the metadata store a URL names, from plain values (the app maps its configuration onto them)."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from gateway.secret_files import read_secret
from gateway.store import url as store_url
from gateway.store.sql import SqlStore
from gateway.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The store cannot be opened (database down, refused login, missing database): one line that
    names the store without its password, for `kmsgw: ...` or a JSON log line instead of a traceback."""


def open_url(
    url: str,
    data_dir: Path,
    *,
    password_file: Path | None = None,
    pool_min_size: int = 1,
    pool_max_size: int = 4,
    pool_timeout_s: float = 10.0,
) -> SqlStore:
    """The store ``url`` names (empty: SQLite ``<data_dir>/kms.db``; see gateway/store/url.py).

    PostgreSQL only: ``password_file`` (mode 0600, refused otherwise) holds the password when the
    URL and libpq's own sources do not; the pool sizes are per process (each `serve` worker opens
    its own store).
    """
    target = store_url.parse(url, data_dir)
    log.debug("opening the metadata store", extra={"store": store_url.redact(url) or str(target.sqlite_path)})
    if target.kind == "sqlite":
        assert target.sqlite_path is not None
        return SqliteStore(target.sqlite_path)
    import psycopg  # loads only when used

    from gateway.store.postgres import PostgresStore

    password = read_secret(password_file) if password_file else None
    try:
        return PostgresStore(
            target.postgres_url,
            password=password,
            pool_min_size=pool_min_size,
            pool_max_size=pool_max_size,
            pool_timeout_s=pool_timeout_s,
        )
    except psycopg.Error as exc:  # PoolTimeout is one too
        raise StoreUnavailable(_unavailable(url, exc, password)) from exc


def _unavailable(url: str, exc: Exception, password: str | None) -> str:
    """libpq's reason on one line, with any password that reached it masked (it never quotes one
    today; this keeps it so)."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    secrets = [s for s in (password, urlsplit(url).password, *_query_passwords(url)) if s]
    for secret in secrets:
        reason = reason.replace(secret, "***")
    return f"cannot open the metadata store {store_url.redact(url)}: {reason}"


def _query_passwords(url: str) -> list[str]:
    try:
        return [v for k, v in parse_qsl(urlsplit(url).query) if k == "password"]
    except ValueError:
        return []
