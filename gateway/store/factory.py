"""Open the metadata store the configuration names (``store`` URL, ``--store``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from gateway.secret_files import read_secret
from gateway.store import url as store_url
from gateway.store.sql import SqlStore
from gateway.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from gateway.app.config import Config, PostgresConfig

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The store cannot be opened (database down, refused login, missing database): one line that
    names the store without its password, for `kmsgw: ...` or a JSON log line instead of a traceback."""


def resolved_url(config: Config) -> str:
    """``store`` when set, else the legacy ``sqlite_path``, else "" (``<data_dir>/kms.db``)."""
    if config.store:
        return config.store
    # The legacy option was a path relative to the working directory, as it always was.
    return f"sqlite://{Path(config.sqlite_path).resolve()}" if config.sqlite_path else ""


def open_store(config: Config) -> SqlStore:
    """A store for this process (each `serve` worker calls this, so each has its own pool)."""
    return open_url(resolved_url(config), config.data_dir, config.postgres)


def open_url(url: str, data_dir: Path, pg: PostgresConfig | None = None) -> SqlStore:
    target = store_url.parse(url, data_dir)
    log.debug("opening the metadata store", extra={"store": store_url.redact(url) or str(target.sqlite_path)})
    if target.kind == "sqlite":
        assert target.sqlite_path is not None
        return SqliteStore(target.sqlite_path)
    import psycopg  # loads only when used

    from gateway.app.config import PostgresConfig
    from gateway.store.postgres import PostgresStore

    pg = pg or PostgresConfig()
    password = read_secret(Path(pg.password_file)) if pg.password_file else None
    try:
        return PostgresStore(
            target.postgres_url,
            password=password,
            pool_min_size=pg.pool_min_size,
            pool_max_size=pg.pool_max_size,
            pool_timeout_s=pg.pool_timeout_s,
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
