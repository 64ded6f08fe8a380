"""FreshCache (gateway/core/fresh_cache.py): a row is reused until the store's generation moves or
its recheck time passes, and the cache stays bounded; against a real SQLite store."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.core.fresh_cache import FreshCache
from gateway.store.sqlite import SqliteStore


def test_reused_until_a_write_or_the_recheck_time(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "m.db")
    loads: list[str] = []

    def load() -> str:
        loads.append("x")
        return f"v{len(loads)}"

    try:
        cache: FreshCache[str, str] = FreshCache(store, recheck_s=0.2)
        assert cache.get("k", load) == "v1"
        assert cache.get("k", load) == "v1"  # nothing moved: no second read
        store.put_project("p1", "d1")  # any committed write moves the generation
        assert cache.get("k", load) == "v2"
        assert cache.get("k", load) == "v2"
        time.sleep(0.25)
        assert cache.get("k", load) == "v3"  # the recheck bound, whatever the generation says
    finally:
        store.close()


def test_bounded(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "m.db")
    try:
        cache: FreshCache[int, int] = FreshCache(store, recheck_s=60, max_entries=3)
        for i in range(3):
            cache.get(i, lambda i=i: i)
        assert len(cache._entries) == 3
        cache.get(99, lambda: 99)  # a fourth key: the cache starts over
        assert set(cache._entries) == {99}
    finally:
        store.close()
