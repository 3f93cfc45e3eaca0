"""Reading guests for lists and search: one permission-scoped queryset, shared filters.

Invariants:
- Every queryset starts from ``restrict`` (the one permission door), so a user sees the
  same guests in the page, the API and search; permission filtering stays in SQL.
- A list costs a constant number of queries: related rows come by JOIN
  (``select_related``), never per row; the raw ``config`` is left out of lists.
- Lists show live guests by default; ``gone=True`` shows destroyed ones instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from governance.core.permissions import get_object_or_404_for, restrict
from inventory.models import GuestNic, VirtualMachine
from inventory.selectors.os_releases import eol_q, os_key_q, releases_load

_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)

# Public sort keys -> keyset order (each ends with the primary key, all non-null).
VM_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "vmid": ("vmid", "id"),
    "cluster": ("cluster__name", "vmid", "id"),
    "status": ("status", "name", "id"),
    "last_seen": ("last_seen", "id"),
}
VM_DEFAULT_SORT = "name"


def dormant_days() -> int:
    return int(getattr(settings, "STEWARD_DORMANT_DAYS", 30))


def dormant_since(now: datetime | None = None) -> datetime:
    """Guests not running since before this instant are dormant."""
    return (now or timezone.now()) - timedelta(days=dormant_days())


def is_dormant(vm: VirtualMachine, *, now: datetime | None = None) -> bool:
    if vm.status == "running":
        return False
    since = vm.last_running or vm.first_seen
    return since < dormant_since(now)


@dataclass(frozen=True)
class VmFilters:
    """What the VM list can be narrowed by; empty values mean "any"."""

    cluster: str = ""
    node: str = ""
    status: str = ""
    tag: str = ""
    classification: str = ""
    kind: str = ""
    dormant: bool | None = None
    template: bool | None = None
    os: str = ""
    eol: bool | None = None
    gone: bool = False
    q: str = ""


def vm_visible(*, user: Any) -> QuerySet[VirtualMachine]:
    """Every guest ``user`` may see, live or gone, with cluster and node joined."""
    return restrict(VirtualMachine.objects.select_related("cluster", "node"), user)


def vm_search(queryset: QuerySet[VirtualMachine], text: str) -> QuerySet[VirtualMachine]:
    """One search box: a vmid, a MAC address, an SMBIOS UUID or part of a name.

    MACs and UUIDs are compared in the normal form the sync stores (upper-case MAC
    with colons, lower-case UUID with dashes), so the indexes on them are used.
    """
    text = text.strip()
    if not text:
        return queryset
    if text.isdigit():
        return queryset.filter(Q(vmid=int(text)) | Q(name__icontains=text))
    if _MAC.match(text):
        digits = re.sub(r"[^0-9a-fA-F]", "", text).upper()
        mac = ":".join(digits[i : i + 2] for i in range(0, 12, 2))
        return queryset.filter(pk__in=GuestNic.objects.filter(mac=mac).values("vm_id"))
    if _UUID.match(text):
        digits = text.replace("-", "").lower()
        uuid = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
        return queryset.filter(smbios_uuid=uuid)
    return queryset.filter(name__icontains=text)


def vm_list(*, user: Any, filters: VmFilters) -> QuerySet[VirtualMachine]:
    """Guests ``user`` may see, narrowed by ``filters``; unordered (callers paginate)."""
    queryset = vm_visible(user=user).defer("config")
    queryset = queryset.filter(gone_since__isnull=not filters.gone)
    if filters.cluster:
        queryset = queryset.filter(cluster__name=filters.cluster)
    if filters.node:
        queryset = queryset.filter(node__name=filters.node)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.tag:
        # tags_text is ";"-joined and sorted; match a whole tag, not a substring of one.
        tag = filters.tag.strip()
        queryset = queryset.filter(
            Q(tags_text=tag)
            | Q(tags_text__startswith=f"{tag};")
            | Q(tags_text__endswith=f";{tag}")
            | Q(tags_text__contains=f";{tag};")
        )
    if filters.classification:
        queryset = queryset.filter(classification=filters.classification)
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.template is not None:
        queryset = queryset.filter(template=filters.template)
    if filters.dormant is not None:
        cutoff = dormant_since()
        dormant = ~Q(status="running") & (
            Q(last_running__lt=cutoff) | Q(last_running__isnull=True, first_seen__lt=cutoff)
        )
        queryset = queryset.filter(dormant if filters.dormant else ~dormant)
    if filters.os and (os_q := os_key_q(filters.os)) is not None:
        queryset = queryset.filter(os_q)
    if filters.eol is not None:
        ended = eol_q(releases_load(), today=timezone.localdate())
        queryset = queryset.filter(ended if filters.eol else ~ended)
    return vm_search(queryset, filters.q)


def vm_get(*, user: Any, pk: int) -> VirtualMachine:
    """One guest with everything its page shows, or ``Http404`` when invisible to ``user``."""
    return get_object_or_404_for(
        user, VirtualMachine.objects.select_related("cluster", "node"), pk=pk
    )
