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
