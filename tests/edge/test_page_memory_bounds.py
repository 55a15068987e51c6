"""The kept pages' memory is bounded by entries and by bytes, whichever comes first; what it
lets go is read back from its file (shared by the host's workers), so a store among 10,000 is
still answered without its view."""

from __future__ import annotations

import time

from mallow.edge.pages import PAGE_OVERHEAD, Page, PageMemory


def _page(size: int, stamp=("0", "s1")) -> Page:
    return Page(stamp, time.time() + 60, b"x" * size, [("Content-Type", "text/html; charset=utf-8")], False)


def _key(store: int, path: str = "/s/shop/") -> tuple:
    return (store, "shop.example", "https", path, "", "zh_CN", False)


def test_the_memory_keeps_at_most_its_bytes_and_lets_the_oldest_go_first():
    memory = PageMemory(max_entries=100, seconds=60, folder=None, max_bytes=3 * (1000 + PAGE_OVERHEAD))
    for store in range(1, 5):
        memory.put(_key(store), _page(1000))
    assert len(memory) == 3
    assert memory.get(_key(1), ("0", "s1")) is None  # the oldest went
    assert all(memory.get(_key(store), ("0", "s1")) is not None for store in (2, 3, 4))


def test_replacing_a_page_does_not_count_it_twice():
    memory = PageMemory(max_entries=100, seconds=60, folder=None, max_bytes=2 * (1000 + PAGE_OVERHEAD))
    for _ in range(5):
        memory.put(_key(1), _page(1000))
    memory.put(_key(2), _page(1000))
    assert len(memory) == 2


def test_a_page_the_memory_let_go_is_read_back_from_its_file(tmp_path):
    memory = PageMemory(max_entries=2, seconds=60, folder=tmp_path / "pages")
    for store in range(1, 4):
        memory.put(_key(store), _page(500))
    assert len(memory) == 2
    again = memory.get(_key(1), ("0", "s1"))
    assert again is not None and again.body == b"x" * 500
    assert memory.get(_key(1), ("0", "s2")) is None  # under another stamp it is not the page any more


def test_the_default_holds_a_home_for_each_of_10000_stores(app):
    from mallow.edge.pages import memory

    assert memory(app).max_entries >= 10_000
