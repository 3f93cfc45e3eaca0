"""Receivers: rules at sync, history when a user is deactivated (connected in ``ready``).

Thin by design: each one calls one service.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save

from governance.ownership.rules import ownership_rule_apply
from governance.ownership.services import ownership_on_user_deactivated
from inventory.signals import guests_discovered


def _on_guests_discovered(sender: Any, *, vm_ids: list[int], **_: Any) -> None:
    ownership_rule_apply(vm_ids=vm_ids)


def _remember_deactivation(sender: Any, *, instance: Any, **_: Any) -> None:
    # Only a save that turns an active user inactive counts; the extra read happens
    # only when an inactive user is saved, which is rare.
    instance._steward_deactivated = bool(
        instance.pk
        and not instance.is_active
        and sender.objects.filter(pk=instance.pk, is_active=True).exists()
    )


def _on_user_saved(sender: Any, *, instance: Any, **_: Any) -> None:
    if getattr(instance, "_steward_deactivated", False):
        instance._steward_deactivated = False
        ownership_on_user_deactivated(user_id=instance.pk)


def connect() -> None:
    user_model = get_user_model()
    guests_discovered.connect(_on_guests_discovered, dispatch_uid="ownership_rules_at_sync")
    pre_save.connect(
        _remember_deactivation, sender=user_model, dispatch_uid="ownership_deactivation_seen"
    )
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid="ownership_deactivation")
