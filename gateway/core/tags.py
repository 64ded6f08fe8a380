"""Key tags (docs/api.md, docs/lifecycle.md): add, batch add/delete, delete, list, and query by tags.

A key holds at most 10 tags, one value per tag key. A tag key is 1-36 unicode characters, a
value 0-43; neither may hold ASCII control characters (0-31) or any of ``* < > \\ =``. Each
rule has its own code. Writes are the owner project's, and not on default keys or keys pending
deletion; adding an existing tag key replaces its value; deleting a tag that is not there is a
no-op (so retries are safe).

resource_instances/action filters the project's keys: ``tags`` is AND across tag keys and OR
across the values listed for one key (no values: any value); ``matches`` on ``resource_name``
(the alias) is a case-sensitive substring match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.core import validate
from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess
from gateway.core.model import Caller, KeyRecord, KeyState, ResourcePage, TaggedKey
from gateway.core.ports.store import MetadataStore

MAX_TAGS_PER_KEY = 10
TAG_KEY_MAX = 36
TAG_VALUE_MAX = 43
MAX_FILTER_VALUES = 10
MATCH_VALUE_MAX = 255
MATCH_KEYS = ("resource_name",)
FILTER_LIMIT = (1, 1000)
FILTER_DEFAULT_LIMIT = 10
_FORBIDDEN = frozenset("*<>\\=")


class TagOps:
    def __init__(self, store: MetadataStore, keys: KeyAccess) -> None:
        self._store = store
        self._keys = keys

    def create_key_tag(
        self, caller: Caller, key_id: str, tag: Mapping[str, Any] | None, sequence: str | None = None
    ) -> None:
        validate.sequence(sequence)
        if tag is None:
            raise KmsError(Err.MISSING_PARAMETER, "tag is required.")
        if not isinstance(tag, Mapping):
            raise KmsError(Err.INVALID_TAG_LIST, "tag must be an object with key and value.")
        tag_key, value = _tag_key(tag.get("key")), _tag_value(tag.get("value", ""))
        rec = self._taggable_key(caller, key_id, "create-key-tag")
        if not self._store.change_tags(rec.key_id, rec.project_id, {tag_key: value}, {}, MAX_TAGS_PER_KEY):
            raise KmsError(Err.TOO_MANY_TAGS, f"A key holds at most {MAX_TAGS_PER_KEY} tags.")

    def batch_key_tags(
        self,
        caller: Caller,
        key_id: str,
        action: str,
        tags: Sequence[Mapping[str, Any]] | None,
        sequence: str | None = None,
    ) -> None:
        """``action`` create: add or replace every tag; delete: remove each tag key (only when its
        value matches, if a non-empty value is given). All or nothing."""
        validate.sequence(sequence)
        if action not in ("create", "delete"):
            raise KmsError(Err.INVALID_ACTION, "action must be create or delete.")
        items = _tag_list(tags)
        upsert: dict[str, str] = {}
        delete: dict[str, str | None] = {}
        for item in items:
            tag_key = _tag_key(item.get("key"))
            if tag_key in upsert or tag_key in delete:
                raise KmsError(Err.INVALID_TAG_LIST, f"Tag key {tag_key!r} appears twice.")
            if action == "create":
                upsert[tag_key] = _tag_value(item.get("value", ""))
            else:
                raw = item.get("value")
                delete[tag_key] = None if raw is None else (_tag_value(raw) or None)  # "" or absent: any value
        rec = self._taggable_key(caller, key_id, f"batch-{action}-key-tags")
        if not self._store.change_tags(rec.key_id, rec.project_id, upsert, delete, MAX_TAGS_PER_KEY):
            raise KmsError(Err.TOO_MANY_TAGS, f"A key holds at most {MAX_TAGS_PER_KEY} tags.")

    def delete_key_tag(self, caller: Caller, key_id: str, tag_key: str, sequence: str | None = None) -> None:
        validate.sequence(sequence)
        tag_key = _tag_key(tag_key)
        rec = self._taggable_key(caller, key_id, "delete-key-tag")
        self._store.change_tags(rec.key_id, rec.project_id, {}, {tag_key: None}, MAX_TAGS_PER_KEY)

    def list_key_tags(self, caller: Caller, key_id: str) -> dict[str, str]:
        """The key's tags, tag key -> value, sorted by tag key."""
        rec = self._keys.owned(caller, key_id, "list-key-tags")
        return self._store.key_tags(rec.key_id)

    def list_project_tags(self, caller: Caller) -> dict[str, list[str]]:
        """Every tag key used in the project, with the distinct values it has, sorted."""
        return self._store.project_tags(caller.project_id)

    def list_resource_instances(
        self,
        caller: Caller,
        *,
        action: str,
        limit: int | str | None = None,
        offset: int | str | None = None,
        tags: Sequence[Mapping[str, Any]] | None = None,
        matches: Sequence[Mapping[str, Any]] | None = None,
        sequence: str | None = None,
    ) -> ResourcePage:
        """``filter``: a page of matching keys with their tags; ``count``: only ``total_count``
        (limit and offset are not used then, as the API reference says)."""
        validate.sequence(sequence)
        if action not in ("filter", "count"):
            raise KmsError(Err.INVALID_ACTION, "action must be filter or count.")
        wanted = _tag_filter(tags)
        name = _matches(matches)
        if action == "count":
            _, total = self._store.keys_by_tags(caller.project_id, wanted, name, 0, None)
            return ResourcePage(resources=[], total_count=total)
        page_limit = _number(limit, FILTER_DEFAULT_LIMIT, Err.INVALID_LIMIT, "limit")
        if not FILTER_LIMIT[0] <= page_limit <= FILTER_LIMIT[1]:
            raise KmsError(Err.INVALID_LIMIT, "limit must be between 1 and 1000.")
        start = _number(offset, 0, Err.INVALID_OFFSET, "offset")
        keys, total = self._store.keys_by_tags(caller.project_id, wanted, name, start, page_limit)
        tag_map = self._store.tags_of_keys([k.key_id for k in keys])
        return ResourcePage(resources=[TaggedKey(k, tag_map[k.key_id]) for k in keys], total_count=total)

    def _taggable_key(self, caller: Caller, key_id: str, operation: str) -> KeyRecord:
        rec = self._keys.owned(caller, key_id, operation)
        if rec.default_key_flag:
            raise KmsError(Err.DEFAULT_KEY_IMMUTABLE)
        if rec.key_state == KeyState.PENDING_DELETION:
            raise KmsError(Err.KEY_PENDING_DELETION)
        return rec


def _bad_chars(text: str) -> bool:
    return any(ord(c) < 32 or c in _FORBIDDEN for c in text)


def _tag_key(value: object) -> str:
    if not isinstance(value, str):
        raise KmsError(Err.INVALID_TAG_KEY, "A tag key is required and must be a string.")
    if not 1 <= len(value) <= TAG_KEY_MAX:
        raise KmsError(Err.INVALID_TAG_KEY_LENGTH, f"A tag key must be 1 to {TAG_KEY_MAX} characters.")
    if _bad_chars(value):
        raise KmsError(Err.INVALID_TAG_KEY, "A tag key may not contain control characters or * < > \\ =.")
    return value


def _tag_value(value: object) -> str:
    if not isinstance(value, str):
        raise KmsError(Err.INVALID_TAG_VALUE, "A tag value must be a string.")
    if len(value) > TAG_VALUE_MAX:
        raise KmsError(Err.INVALID_TAG_VALUE_LENGTH, f"A tag value must be at most {TAG_VALUE_MAX} characters.")
    if _bad_chars(value):
        raise KmsError(Err.INVALID_TAG_VALUE, "A tag value may not contain control characters or * < > \\ =.")
    return value


def _tag_list(tags: object) -> list[Mapping[str, Any]]:
    if tags is None or (isinstance(tags, Sequence) and not isinstance(tags, str) and len(tags) == 0):
        raise KmsError(Err.TAG_LIST_EMPTY)
    if isinstance(tags, str) or not isinstance(tags, Sequence) or not all(isinstance(t, Mapping) for t in tags):
        raise KmsError(Err.INVALID_TAG_LIST, "tags must be a list of objects.")
    if len(tags) > MAX_TAGS_PER_KEY:
        raise KmsError(Err.INVALID_TAG_LIST_SIZE, f"tags may list at most {MAX_TAGS_PER_KEY} tags.")
    return list(tags)


def _tag_filter(tags: object) -> list[tuple[str, list[str]]]:
    if tags is None:
        return []
    if isinstance(tags, str) or not isinstance(tags, Sequence) or not all(isinstance(t, Mapping) for t in tags):
        raise KmsError(Err.INVALID_TAG_LIST, "tags must be a list of objects with key and values.")
    if len(tags) > MAX_TAGS_PER_KEY:
        raise KmsError(Err.INVALID_TAG_LIST_SIZE, f"tags may list at most {MAX_TAGS_PER_KEY} tag keys.")
    out: list[tuple[str, list[str]]] = []
    for item in tags:
        tag_key = _tag_key(item.get("key"))
        if any(tag_key == k for k, _ in out):
            raise KmsError(Err.INVALID_TAG_LIST, f"Tag key {tag_key!r} appears twice.")
        values = item.get("values", [])
        if values is None:
            values = []
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise KmsError(Err.INVALID_TAG_LIST, "values must be a list of strings.")
        if len(values) > MAX_FILTER_VALUES:
            raise KmsError(Err.TOO_MANY_TAG_VALUES, f"A tag key may list at most {MAX_FILTER_VALUES} values.")
        checked = [_tag_value(v) for v in values]
        if len(set(checked)) != len(checked):
            raise KmsError(Err.INVALID_TAG_LIST, f"A value of tag key {tag_key!r} appears twice.")
        out.append((tag_key, checked))
    return out


def _matches(matches: object) -> str | None:
    """The resource_name substring to match, if any."""
    if matches is None:
        return None
    if (
        isinstance(matches, str)
        or not isinstance(matches, Sequence)
        or not all(isinstance(m, Mapping) for m in matches)
    ):
        raise KmsError(Err.INVALID_MATCHES, "matches must be a list of objects with key and value.")
    name = None
    for item in matches:
        key = item.get("key")
        if key not in MATCH_KEYS:
            raise KmsError(Err.INVALID_MATCH_KEY, "The only match key is resource_name.")
        if name is not None:
            raise KmsError(Err.INVALID_MATCHES, "resource_name appears twice in matches.")
        value = item.get("value")
        # Control characters can match no alias, and PostgreSQL refuses NUL in any text parameter.
        if not isinstance(value, str) or not 1 <= len(value) <= MATCH_VALUE_MAX or any(ord(c) < 0x20 for c in value):
            raise KmsError(
                Err.INVALID_MATCH_VALUE, f"A match value must be 1 to {MATCH_VALUE_MAX} printable characters."
            )
        name = value
    return name


def _number(value: int | str | None, default: int, err: Err, field: str) -> int:
    """A non-negative integer given as a number or a string of digits (the API reference types it String)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise KmsError(err, f"{field} must be a non-negative integer.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise KmsError(err, f"{field} must be a non-negative integer.")
    if number < 0:
        raise KmsError(err, f"{field} must be a non-negative integer.")
    return number
