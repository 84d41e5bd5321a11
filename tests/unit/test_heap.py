"""The serving process's garbage-collector policy (core/heap.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from paydesk.core.heap import HeapKeeper


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def now() -> Iterator[list[float]]:
    gc.disable()  # no automatic collection moves the test's objects between generations behind its back
    try:
        yield [0.0]
    finally:
        gc.unfreeze()  # give the test process its collector back
        gc.enable()


def test_survivors_are_frozen_and_a_full_turn_reclaims_cycles_that_died_while_frozen(now: list[float]) -> None:
    keeper = HeapKeeper(freeze_every_s=10, full_every_s=600, clock=lambda: now[0])
    keeper.settle()
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector can free it
    gone = weakref.ref(a)
    before = gc.get_freeze_count()
    now[0] = 10
    assert keeper.tick() == "freeze" and gc.get_freeze_count() > before  # the survivors are out of sight
    del a, b
    gc.collect()
    assert gone() is not None  # frozen: no collection walks it, so it lingers until the full turn
    now[0] = 599
    assert keeper.tick() in ("freeze", "quiet") and gone() is not None
    now[0] = 610
    assert keeper.tick() == "full"
    assert gone() is None and keeper.last_full == 610


def test_a_young_cycle_is_collected_before_the_freeze_not_frozen(now: list[float]) -> None:
    keeper = HeapKeeper(clock=lambda: now[0])
    keeper.settle()
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    now[0] = 10
    assert keeper.tick() == "freeze"
    assert gone() is None  # died young: the tick's collection of the young generations freed it


def test_between_turns_only_a_burst_past_the_young_threshold_starts_a_collection() -> None:
    keeper = HeapKeeper(young_threshold=50_000)
    before = gc.get_threshold()
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        keeper.settle()
        assert gc.get_threshold() == (50_000, *before[1:])
        collections.clear()
        kept = [[] for _ in range(20_000)]  # lists are tracked: 28 times CPython's default threshold of 700
        assert collections == []  # the default would have collected 28 times by now
        kept += [[] for _ in range(40_000)]
        assert collections  # past the threshold: a burst is still bounded
        keeper.tick()
        keeper.release()
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    finally:
        gc.callbacks.remove(count)
        gc.unfreeze()
        gc.set_threshold(*before)
    assert len(kept) == 60_000


def test_after_a_collection_that_found_nothing_turns_only_freeze_until_one_finds_garbage_again(
        now: list[float]) -> None:
    def dead_cycle() -> weakref.ref[Node]:
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    keeper = HeapKeeper(quiet_turns=3, clock=lambda: now[0])
    keeper.settle()
    assert keeper.tick() == "freeze"  # collected, found nothing (steady traffic)
    x = dead_cycle()
    assert [keeper.tick() for _ in range(3)] == ["quiet"] * 3  # no collection, no pause, in these turns...
    assert x() is not None  # ...so a cycle that died meanwhile is frozen with the rest
    assert keeper.tick() == "freeze"  # the next one collects (found nothing again: x is frozen)
    assert [keeper.tick() for _ in range(3)] == ["quiet"] * 3
    z = dead_cycle()
    assert keeper.tick() == "freeze" and z() is None  # this collection found garbage...
    assert keeper.tick() == "freeze"  # ...so the next turn collects too
    now[0] = 600
    assert keeper.tick() == "full" and x() is None  # the full turn reclaims what died frozen
