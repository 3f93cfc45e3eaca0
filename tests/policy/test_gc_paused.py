"""``gc_paused``: the cyclic collector is off inside, and back to its prior state after."""

from __future__ import annotations

import gc

import pytest

from policy.facts import gc_paused


@pytest.fixture
def gc_state():
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_pauses_and_restores(gc_state) -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restores_after_an_error(gc_state) -> None:
    gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_leaves_a_disabled_collector_disabled(gc_state) -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_what_was_built_goes_to_the_oldest_generation_and_cycles_are_still_freed(
    gc_state,
) -> None:
    gc.enable()
    gc.collect()
    with gc_paused():
        cycle: list = []
        cycle.append(cycle)
        built = [[i] for i in range(10_000)]
    # Nothing left young for the next collection to walk; nothing frozen for good.
    assert gc.get_count()[0] < 100
    assert gc.get_freeze_count() == 0
    del cycle, built
    assert gc.collect() >= 1  # the cycle made while paused is found by a full collection


def test_objects_frozen_by_someone_else_stay_frozen(gc_state) -> None:
    gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
