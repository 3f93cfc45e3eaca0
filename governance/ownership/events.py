"""``holders_changed``: sent after commit when bulk writes (a bulk assignment, an
ownership rule) gave guests new holder rows. Single changes need no signal of their own:
each saves its ``Ownership`` row, so ``post_save`` tells receivers. kwargs: ``vm_ids``."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

holders_changed = Signal()


def holders_changed_send(vm_ids: Iterable[int]) -> None:
    """Tell receivers once the caller's transaction commits (at once outside one)."""
    ids = sorted(set(vm_ids))
    if ids:
        transaction.on_commit(lambda: holders_changed.send(sender=None, vm_ids=ids))
