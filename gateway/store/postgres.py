"""PostgreSQL metadata store: the same SQL methods as SQLite, run through a psycopg 3 pool.

Several gateway nodes share one database, so this adapter adds what SQLite gets from being
one file on one host:
- writes are serialized cluster-wide by one transaction-scoped advisory lock, which gives
  every method the semantics it has on SQLite (``BEGIN IMMEDIATE``: count-then-insert
  checks cannot race). Metadata writes are rare; crypto requests only read.
- every write transaction NOTIFYs a channel; a listener thread on its own connection bumps
  ``generation`` on each notification from another store, and on every (re)connect since
  notifications sent while it was not listening are lost. Readers that cache by generation
  (the crypto path's key-row cache) therefore see another node's change on their next
  request after the notification arrives; their TTL stays the backstop.
- migrations run under an advisory lock, so nodes starting together migrate once.

Calls are synchronous, like SQLite's: a primary-key read is one loopback round trip
(docs/postgres.md has the measured figures). Connections are in autocommit mode, so a read
is a single statement with no BEGIN/COMMIT around it.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from gateway.core.ports.store import MetadataStore
from gateway.store.migrate import migrate_postgres
from gateway.store.sql import IntegrityError, SqlStore
from gateway.store.url import redact

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "kmsgw_store"
WRITE_LOCK_KEY = 0x6B6D7367_7700_0001  # pg_advisory_xact_lock key serializing metadata writes ("kmsgw")
LISTEN_POLL_S = 0.25  # the listener checks for close() this often
RECONNECT_BACKOFF_S = (0.1, 0.5, 1.0, 2.0)


# -- SQL as the store methods write it -> SQL for psycopg ----------------------------------
_INSTR = re.compile(r"\binstr\s*\(", re.IGNORECASE)
_EMPTY_IN = re.compile(r"\bIN\s*\(\s*\)", re.IGNORECASE)


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``?`` placeholders to ``%s`` (outside string literals and quoted names), ``%`` escaped.

    Also the few SQLite spellings the store uses that PostgreSQL spells differently:
    ``instr(haystack, needle)`` is ``strpos``, and ``IN ()`` (empty, valid in SQLite) becomes
    an empty subquery with the same meaning for IN and NOT IN.
    """
    out: list[str] = []
    quote = ""
    for ch in sql:
        if ch == "%":
            out.append("%%")  # psycopg reads % everywhere in the text, literals included
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append(ch)
    text = "".join(out)
    text = _INSTR.sub("strpos(", text)
    return _EMPTY_IN.sub("IN (SELECT NULL WHERE FALSE)", text)


def _plain(args: Sequence[object]) -> tuple:
    """Booleans and int enums as plain ints: the schema's flags are INTEGER columns (SQLite takes
    True for 1, PostgreSQL refuses a boolean in a BIGINT column)."""
    return tuple(int(a) if isinstance(a, int) and type(a) is not int else a for a in args)


# -- rows addressable by position and by column name, like sqlite3.Row -------------------
class Row(tuple):
    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_index": {n: i for i, n in enumerate(names)}})


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    desc = cursor.description
    return _row_class(tuple(c.name for c in desc)) if desc else tuple


class _Connection:
    """The connection-like object the store's SQL methods receive (see gateway/store/sql/base.py)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        try:
            return self._conn.execute(translate(sql), _plain(args))
        except psycopg.errors.IntegrityError as exc:
            diag = exc.diag
            raise IntegrityError(f"{diag.message_primary} ({diag.constraint_name}): {diag.message_detail}") from exc


class PostgresStore(SqlStore):
    """The store on PostgreSQL: SqlStore's methods over a pool; only the primitives are its own."""

    shared: bool = True  # other nodes may be writing at any time, this one's start-up included

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        pool_min_size: int = 1,
        pool_max_size: int = 4,
        pool_timeout_s: float = 10.0,
        listen: bool = True,
    ) -> None:
        self.path = redact(url)  # for messages: never the password
        self._url = url
        self._connect_kwargs: dict[str, Any] = {
            "autocommit": True,
            "application_name": "kmsgw",
            "connect_timeout": max(2, int(pool_timeout_s)),
        }
        if password is not None:
            self._connect_kwargs["password"] = password
        self._instance = uuid.uuid4().hex  # NOTIFY payload: the listener skips its own store's writes
        self._generation = 0
        self._gen_lock = threading.Lock()
        # One direct connection first: a wrong password or a missing database fails here with
        # libpq's own message rather than as a pool timeout; the migrations run on it.
        with psycopg.connect(url, **self._connect_kwargs) as conn:
            applied = migrate_postgres(conn)
        if applied:
            log.info("migrated the metadata store", extra={"store": self.path, "applied": applied})
        self._pool = ConnectionPool(
            url,
            kwargs={**self._connect_kwargs, "row_factory": _row_factory},
            min_size=pool_min_size,
            max_size=pool_max_size,
            timeout=pool_timeout_s,
            name="kmsgw-store",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=pool_timeout_s)
        except BaseException:
            self._pool.close()
            raise
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._listener: threading.Thread | None = None
        if listen:
            self._listener = threading.Thread(target=self._listen, name="kmsgw-store-listener", daemon=True)
            self._listener.start()
            self._listening.wait(pool_timeout_s)

    # -- invalidation ----------------------------------------------------------------
    @property
    def generation(self) -> int:
        """Changes on every commit of this store and on every notification of another's."""
        return self._generation

    def _bump(self) -> None:
        with self._gen_lock:
            self._generation += 1

    def _listen(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, **self._connect_kwargs) as conn:
                    conn.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(NOTIFY_CHANNEL)))
                    self._bump()  # whatever was committed while nobody listened
                    self._listening.set()
                    attempt = 0
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=LISTEN_POLL_S):
                            if note.payload != self._instance:
                                self._bump()
            except psycopg.Error as exc:
                self._bump()
                delay = RECONNECT_BACKOFF_S[min(attempt, len(RECONNECT_BACKOFF_S) - 1)]
                attempt += 1
                log.warning(
                    "store change listener lost its connection; reconnecting",
                    extra={"store": self.path, "error": type(exc).__name__, "retry_s": delay},
                )
                self._stop.wait(delay)

    # -- primitives ------------------------------------------------------------------
    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(LISTEN_POLL_S * 8)
        self._pool.close()

    @contextmanager
    def _tx(self) -> Iterator[_Connection]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
            yield _Connection(conn)
            conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, self._instance))  # sent at commit
        self._bump()  # cached reads taken before this write are stale now

    @contextmanager
    def _read(self) -> Iterator[_Connection]:
        with self._pool.connection() as conn:
            yield _Connection(conn)

    def _one(self, sql: str, args: tuple = ()) -> Any:
        return self._retrying(lambda conn: conn.execute(translate(sql), _plain(args)).fetchone())

    def _all(self, sql: str, args: tuple = ()) -> list[Any]:
        return self._retrying(lambda conn: conn.execute(translate(sql), _plain(args)).fetchall())

    def _retrying(self, read: Any) -> Any:
        """A single read, tried once more when its pooled connection turned out dead (a database
        restart leaves every idle pooled connection broken); other errors are not retried."""
        for attempt in (0, 1):
            with self._pool.connection() as conn:
                try:
                    return read(conn)
                except psycopg.OperationalError:
                    if attempt or not conn.closed:
                        raise
            self._pool.check()  # drop the other dead idle connections before the retry
        raise AssertionError("unreachable")


if TYPE_CHECKING:  # mypy proves the adapter is a whole MetadataStore (gateway/core/ports/store.py)
    _CONFORMS: type[MetadataStore] = PostgresStore
