"""What every request form shares: the justification and idempotency key, the
conversion of cleaned data to the request's JSON parameters, and the inventory
queries the kinds' forms offer choices from."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from governance.accounts.models import Team
from inventory.models import Cluster, Node, Storage, VirtualMachine

MIN_JUSTIFICATION = 10


def live_nodes(cluster: Cluster) -> Any:
    return Node.objects.filter(cluster=cluster, gone_since__isnull=True).order_by("name")


def storages_of(cluster: Cluster, *classes: str) -> Any:
    return Storage.objects.filter(
        cluster=cluster, gone_since__isnull=True, storage_class__in=classes
    ).order_by("name")


class RequestForm(forms.Form):
    """Fields every request has; subclasses add the kind's own and build ``parameters``.

    ``vm`` is the request's target (already visible to ``user``; None for kinds that
    create a guest) and ``cluster`` the cluster the request acts on.
    """

    kind: ClassVar[str] = ""
    needs_vm: ClassVar[bool] = True
    title: ClassVar[str] = ""

    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this is needed; approvers read it.",
        min_length=MIN_JUSTIFICATION,
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        user: Any,
        vm: VirtualMachine | None = None,
        cluster: Cluster | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.user = user
        self.vm = vm
        self.cluster = cluster or (vm.cluster if vm is not None else None)
        # The key field renders last so the visible fields keep their declared order.
        self.order_fields([name for name in self.fields if name != "justification"])

    def parameters(self) -> dict[str, Any]:
        """The request's parameters as JSON-safe values; call after ``is_valid()``."""
        skip = {"justification", "idempotency_key"}
        return {k: _json(v) for k, v in self.cleaned_data.items() if k not in skip}


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Node | Storage | Cluster):
        return value.name
    if isinstance(value, models.Model):
        # Teams, template guests, policies: stored by primary key.
        return value.pk
    return value


def teams_of(user: Any) -> Any:
    teams = Team.objects.all() if user.is_superuser else Team.objects.filter(members=user)
    return teams.order_by("name")


def in_future(value: date | None, what: str) -> None:
    if value is not None and value <= timezone.localdate():
        raise ValidationError(f"The {what} must be in the future.", code="past")
