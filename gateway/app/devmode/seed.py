"""The seed file of a dev or test gateway (TOML, `kmsgw dev --seed FILE`, `--kmsgw-seed FILE`).

A seed names what an application's tests expect to find: projects, credentials with fixed AK/SK,
keys with fixed ids, aliases, states, tags, grants, and known AES-256 material (several entries: the
key's versions, the last one current), so ciphertexts made in one run decrypt in the next.
docs/testing-with-kmsgw.md has the format; this module validates it in one pass (pydantic) and
reports every problem as ``file: entry: reason`` — never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.app.devmode.errors import SeedError
from gateway.core import permissions

MATERIAL_BYTES = 32
_NAME = r"^[a-zA-Z0-9_-]{1,64}$"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def decode_material(value: str) -> bytes:
    """32 bytes given as 64 hex digits or as base64."""
    text = value.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != MATERIAL_BYTES:
        raise ValueError("must be 32 bytes: 64 hex digits or base64")
    return raw


class Grant(_Entry):
    grantee: Annotated[str, Field(pattern=r"^[a-zA-Z0-9]{1,64}$")]  # a user id (or a domain id, below)
    grantee_type: Literal["user", "domain"] = "user"
    operations: Annotated[list[str], Field(min_length=1)]
    name: str = ""
    retiring: str = ""


class Key(_Entry):
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    alias: Annotated[str, Field(pattern=r"^[a-zA-Z0-9:/_-]{1,255}$")]
    spec: Literal["AES_256", "SM4", "RSA_2048", "RSA_3072", "RSA_4096", "EC_P256", "EC_P384", "SM2"] = "AES_256"
    usage: Literal["", "ENCRYPT_DECRYPT", "SIGN_VERIFY"] = ""
    origin: Literal["kms", "external"] = "kms"
    description: Annotated[str, Field(max_length=255)] = ""
    state: Literal["enabled", "disabled", "pending_deletion", "pending_import"] = "enabled"
    pending_days: Annotated[int, Field(ge=7, le=1096)] = 7
    rotation: bool = False
    rotation_interval: Annotated[int, Field(ge=30, le=365)] | None = None  # days; sets rotation on
    tags: dict[str, str] = {}
    material: list[str] = []  # hex or base64, 32 bytes each; several entries: versions 1..n
    grants: list[Grant] = []

    @field_validator("material", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("material")
    @classmethod
    def _materials(cls, value: list[str]) -> list[str]:
        for i, entry in enumerate(value):
            try:
                decode_material(entry)
            except ValueError as exc:
                raise ValueError(f"material[{i}] {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Key:
        if self.material and self.spec != "AES_256":
            raise ValueError("known material is for AES_256 keys only")
        if self.origin == "external":
            if self.spec != "AES_256":
                raise ValueError("only AES_256 keys can be imported (origin external)")
            if len(self.material) > 1:
                raise ValueError("an imported key has one material entry (imported keys do not rotate)")
            if self.rotation or self.rotation_interval:
                raise ValueError("imported keys do not rotate")
            if self.state == "pending_import" and self.material:
                raise ValueError("state pending_import means no material: remove material or the state")
            if self.state != "pending_import" and not self.material:
                raise ValueError("an external key without material is pending_import: set state or material")
        elif self.state == "pending_import":
            raise ValueError("only external keys can be pending_import")
        if (self.rotation or self.rotation_interval) and not (self.spec == "AES_256" and self.origin == "kms"):
            raise ValueError("only AES_256 keys of origin kms rotate")
        return self

    def materials(self) -> list[bytes]:
        return [decode_material(m) for m in self.material]


class Credential(_Entry):
    access_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{8,128}$")]
    secret_key: Annotated[str, Field(pattern=r"^[!-~]{16,128}$")]
    user_id: Annotated[str, Field(pattern=r"^[a-zA-Z0-9]{1,64}$")] | None = None
    allow: list[str] | None = None  # permission actions; absent: every action

    @field_validator("allow")
    @classmethod
    def _actions(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            permissions.parse_actions(value)  # ValueError names the unknown action
        return value


class Project(_Entry):
    id: Annotated[str, Field(pattern=_NAME)]
    domain_id: Annotated[str, Field(pattern=_NAME)] | None = None
    credentials: list[Credential] = []
    keys: list[Key] = []

    @model_validator(mode="after")
    def _unique_aliases(self) -> Project:
        aliases = [k.alias for k in self.keys]
        twice = sorted({a for a in aliases if aliases.count(a) > 1})
        if twice:
            raise ValueError(f"alias used twice in one project: {', '.join(twice)}")
        return self


class Seed(_Entry):
    projects: list[Project] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> Seed:
        for what, values in (
            ("project id", [p.id for p in self.projects]),
            ("key id", [k.id for p in self.projects for k in p.keys]),
            ("access key", [c.access_key for p in self.projects for c in p.credentials]),
        ):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"{what} used twice: {', '.join(twice)}")
        return self


def load(path: str | Path) -> Seed:
    """The seed in ``path``; :class:`SeedError` with the file, the entry and the reason otherwise."""
    name = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(name, [("", f"cannot read: {exc.strerror or exc}")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SeedError(name, [("", f"not TOML: {exc}")]) from None
    try:
        return Seed.model_validate(raw)
    except ValidationError as exc:
        raise SeedError(name, [(_entry(raw, err["loc"]), _reason(err)) for err in exc.errors()]) from None


# What a field's pattern means, for people (pydantic would quote the regular expression).
_PATTERNS = {
    "id": "must be a lowercase UUID (key ids) or 1-64 letters, digits, '_' and '-' (project ids)",
    "domain_id": "must be 1-64 letters, digits, '_' and '-'",
    "alias": "must be 1-255 letters, digits and ':/_-'",
    "access_key": "must be 8-128 letters and digits",
    "secret_key": "must be 16-128 printable ASCII characters without spaces",
    "user_id": "must be 1-64 letters and digits",
    "grantee": "must be 1-64 letters and digits (a user or domain id)",
}


def _reason(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch" and err["loc"] and err["loc"][-1] in _PATTERNS:
        return str(_PATTERNS[err["loc"][-1]])
    if err["type"] == "extra_forbidden":
        return "unknown field (see docs/testing-with-kmsgw.md, the seed format)"
    if err["type"] == "missing":
        return "required field missing"
    return msg


def _entry(raw: Any, loc: tuple[Any, ...]) -> str:
    """``projects[0].keys[1] (alias 'orders').material``: where in the file, named as the user named it."""
    parts: list[str] = []
    node = raw
    for step in loc:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            label = _label(node)
            if label:
                parts[-1] += f" ({label})"
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "top level"


def _label(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    for field in ("alias", "access_key", "id", "grantee"):
        if isinstance(node.get(field), str):
            return f"{field} {node[field]!r}"
    return ""
