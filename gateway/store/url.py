"""Store URLs: ``sqlite:///abs/path``, ``sqlite:relative`` (to the data dir), ``postgresql://...``.

A PostgreSQL URL goes to libpq as it is, so libpq's own password sources work (PGPASSFILE or
``~/.pgpass``, ``passfile=`` in the URL, PGPASSWORD). A password written in the URL works too,
but anything on a command line is visible in ``ps``: ``redact`` keeps it out of logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_SQLITE_NAME = "kms.db"
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class StoreUrl:
    kind: str  # "sqlite" or "postgresql"
    sqlite_path: Path | None = None
    postgres_url: str = ""


def parse(url: str, data_dir: Path) -> StoreUrl:
    """The store a URL names; an empty URL is the default SQLite file in the data dir."""
    if not url:
        return StoreUrl("sqlite", sqlite_path=data_dir / DEFAULT_SQLITE_NAME)
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"store URL needs a scheme (sqlite: or postgresql:): {redact(url)}")
    if scheme == "sqlite":
        if rest.startswith("//"):  # sqlite:///abs/path: empty authority, absolute path
            authority, _, path = rest[2:].partition("/")
            if authority:
                raise ValueError(f"sqlite URL takes no host: {url} (use sqlite:///abs/path or sqlite:relative)")
            path = "/" + path
        else:
            path = rest
        if not path or path == "/":
            raise ValueError(f"sqlite URL names no file: {url}")
        file = Path(path)
        return StoreUrl("sqlite", sqlite_path=file if file.is_absolute() else data_dir / file)
    if scheme in POSTGRES_SCHEMES:
        if not urlsplit(url).path.strip("/"):
            raise ValueError(f"postgresql URL names no database: {redact(url)}")
        return StoreUrl("postgresql", postgres_url=url)
    raise ValueError(f"unknown store URL scheme {scheme!r}: use sqlite: or postgresql:")


def has_password(url: str) -> bool:
    parts = urlsplit(url)
    return parts.password is not None or any(k == "password" for k, _ in parse_qsl(parts.query))


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (user, host, port and database kept)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user_info, _, host = netloc.rpartition("@")
            user = user_info.partition(":")[0]
            netloc = f"{user}:***@{host}"
        query = parts.query
        if query:
            query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(query)], safe="*/")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparsable store URL>"
