"""Rows read from the store and reused while they are known to be fresh.

An entry is reused only while ``store.generation`` has not moved (any committed write, here or, on
a shared store, in another worker or node within milliseconds) and for at most ``recheck_s``, the
bound for a change another process missed telling us. The directories of the AWS-facing doors
(core/aws, core/xks) read their accounts, keys, aliases, keystores and mappings through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.core.ports.store import MetadataStore

K = TypeVar("K")
V = TypeVar("V")


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    generation: int
    recheck: float  # monotonic


class FreshCache(Generic[K, V]):
    """One kind of row by key; at most ``max_entries`` (past that the cache starts over: keys are
    client-chosen, so the bound matters more than which entries survive)."""

    def __init__(self, store: MetadataStore, recheck_s: float, max_entries: int = 10_000) -> None:
        self._store = store
        self._recheck_s = recheck_s
        self._max = max_entries
        self._entries: dict[K, _Entry[V]] = {}

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The cached value, or ``load()`` when there is none or it may be stale."""
        now = time.monotonic()
        generation = self._store.generation
        hit = self._entries.get(key)
        if hit is None or hit.generation != generation or hit.recheck <= now:
            value = load()
            if hit is None and len(self._entries) >= self._max:
                self._entries.clear()
            hit = self._entries[key] = _Entry(value, generation, now + self._recheck_s)
        return hit.value
