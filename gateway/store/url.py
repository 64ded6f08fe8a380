"""Store URLs: ``sqlite:///abs/path``, ``sqlite:relative`` (to the data dir), ``postgresql://...``.

A PostgreSQL URL goes to libpq as it is, so libpq's own password sources work (PGPASSFILE or
``~/.pgpass``, ``passfile=`` in the URL, PGPASSWORD). A password written in the URL works too,
but anything on a command line is visible in ``ps``: ``redact`` keeps it out of logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

DEFAULT_SQLITE_NAME = "kms.db"
POSTGRES_SCHEMES = ("postgresql", "postgres")
SECRET_PARAMS = ("password", "sslpassword")  # query parameters never written down or shown


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
            query = urlencode([(k, "***" if k in SECRET_PARAMS else v) for k, v in parse_qsl(query)], safe="*/")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparsable store URL>"


def without_password(url: str) -> str:
    """The URL with every password removed (not masked): what may be written down and used again,
    the password then coming from a password file or libpq's own sources."""
    if url.partition(":")[0].lower() not in POSTGRES_SCHEMES:
        return url  # a SQLite URL holds no secret
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user_info, _, host = netloc.rpartition("@")
        netloc = f"{user_info.partition(':')[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in SECRET_PARAMS], safe="/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def same_store(a: str, b: str, data_dir: Path) -> bool:
    """Whether two URLs name one store: the same SQLite file, or the same PostgreSQL database on the
    same hosts and ports (whatever the role, password source or connection parameters)."""
    return _identity(a, data_dir) == _identity(b, data_dir)


def _identity(url: str, data_dir: Path) -> tuple[object, ...]:
    target = parse(url, data_dir)
    if target.sqlite_path is not None:
        return ("sqlite", target.sqlite_path.resolve())
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    hosts = query.get("host", "")
    ports = query.get("port", "")
    if not hosts or not ports:
        from_netloc = [_host_port(h) for h in parts.netloc.rpartition("@")[2].split(",")]
        hosts = hosts or ",".join(h for h, _ in from_netloc)
        ports = ports or ",".join(p for _, p in from_netloc)
    host_list = [unquote(h).lower() for h in hosts.split(",")]
    port_list = [p or "5432" for p in ports.split(",")]
    if len(port_list) == 1:
        port_list *= len(host_list)
    dbname = query.get("dbname") or unquote(parts.path.lstrip("/"))
    return ("postgresql", tuple(sorted(zip(host_list, port_list, strict=False))), dbname)


def _host_port(entry: str) -> tuple[str, str]:
    if entry.startswith("["):  # [IPv6]:port
        host, _, rest = entry[1:].partition("]")
        return host, rest.lstrip(":")
    host, _, port = entry.partition(":")
    return host, port
