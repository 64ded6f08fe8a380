"""The configuration's metadata store, and the data dir's record of the store it is served with.

The adapter (gateway/store/factory.py) takes plain values; this maps Config onto them.

Why a data dir records its store: every command that opens the store (`serve`, `credentials`,
`token`, `certificates`, `audit`) is told the store by ``--store`` or ``[gateway] store``, and
without either it used the data dir's SQLite file. So `kmsgw credentials create --data-dir D`
without ``--store`` beside servers of D that use PostgreSQL wrote a credential that no server
would ever find. Now the first `serve` on D (and the first command given a store explicitly)
writes ``D/store.json``, 0600, ``{"store": URL}`` with any password removed. Afterwards:

- no store given: the recorded one is used;
- the recorded one given (any spelling naming the same file or database): used;
- another store given: refused with one line, exit 2. To move a data dir to another store on
  purpose, delete ``D/store.json``; the next `serve` (or command given a store) records the new one.

A data dir with no record and no store given uses ``D/kms.db``, as before; only `serve` records
that default.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from gateway.app.config import Config
from gateway.store import url as store_url
from gateway.store.factory import StoreUnavailable, open_url
from gateway.store.sql import SqlStore

BINDING_NAME = "store.json"

log = logging.getLogger(__name__)


class StoreBindingError(StoreUnavailable):
    """The data dir is bound to another store than the one given (or its record is unreadable):
    one line for `kmsgw: ...` (exit 2) or serve's refusal to start, like StoreUnavailable."""


def resolved_url(config: Config) -> str:
    """The store the configuration names: ``store`` when set, else the legacy ``sqlite_path``,
    else "" (none given)."""
    if config.store:
        return config.store
    # The legacy option was a path relative to the working directory, as it always was.
    return f"sqlite://{Path(config.sqlite_path).resolve()}" if config.sqlite_path else ""


def binding_path(data_dir: Path) -> Path:
    return data_dir / BINDING_NAME


def bound_url(data_dir: Path) -> str | None:
    """The store ``data_dir`` is bound to, None when it has no record."""
    path = binding_path(data_dir)
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreBindingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        url = json.loads(raw)["store"]
        store_url.parse(url, data_dir)
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreBindingError(
            f"{path} does not name a store ({exc}): delete it, then give the data dir's store with --store"
        ) from exc
    return str(url)


def settle_store(config: Config, *, serving: bool) -> None:
    """Before anything opens: refuse a store the data dir is not bound to, else fill in ``config.store``
    from the record (or, for `serve`, with the default SQLite file so that it gets recorded)."""
    given = resolved_url(config)
    bound = bound_url(config.data_dir)
    if given:
        _check(config.data_dir, given, bound)
    elif bound is not None:
        config.store = bound
    elif serving:
        config.store = f"sqlite:{store_url.DEFAULT_SQLITE_NAME}"


def open_store(config: Config) -> SqlStore:
    """A store for this process (each `serve` worker calls this, so each has its own pool); binds an
    unbound data dir to a store given explicitly, once it opened."""
    given = resolved_url(config)
    bound = bound_url(config.data_dir)
    if given:
        _check(config.data_dir, given, bound)
    pg = config.postgres
    store = open_url(
        given or bound or "",
        config.data_dir,
        password_file=Path(pg.password_file) if pg.password_file else None,
        pool_min_size=pg.pool_min_size,
        pool_max_size=pg.pool_max_size,
        pool_timeout_s=pg.pool_timeout_s,
    )
    if given and bound is None:
        try:
            _record(config.data_dir, given)
        except OSError as exc:  # a safety net, not a need: serve on, say why it is missing
            log.warning(
                "cannot record the data dir's store",
                extra={"path": str(binding_path(config.data_dir)), "error": str(exc)},
            )
        except BaseException:
            store.close()
            raise
    return store


def _check(data_dir: Path, given: str, bound: str | None) -> None:
    if bound is not None and not store_url.same_store(given, bound, data_dir):
        where = binding_path(data_dir)
        raise StoreBindingError(
            f"the data dir {data_dir} is bound to the store {bound}, not {store_url.redact(given)} ({where}):"
            f" give no store (--store, [gateway] store) to use it, or delete {where} to bind the data dir"
            " to another store deliberately"
        )


def _record(data_dir: Path, url: str) -> None:
    """Write the record unless another process just did (then its store must be this one too)."""
    final = binding_path(data_dir)
    partial = data_dir / f".{BINDING_NAME}.{os.getpid()}"
    body = json.dumps({"store": store_url.without_password(url), "bound_at": int(time.time())}) + "\n"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        _publish(partial, final)
    except FileExistsError:  # another process bound the data dir meanwhile: to this store too?
        _check(data_dir, url, bound_url(data_dir))
    finally:
        partial.unlink(missing_ok=True)


def _publish(partial: Path, final: Path) -> None:
    """Create ``final`` with the content of ``partial`` unless it exists, never half-written."""
    try:
        os.link(partial, final)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (vfat, some FUSE): exclusive create, then the content
        fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, partial.read_bytes())
            os.fsync(fd)
        finally:
            os.close(fd)
