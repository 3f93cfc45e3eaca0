"""Mirroring ownership to Proxmox tags (``STEWARD_MIRROR_OWNER_TAGS``), one way only.

After an ownership change commits, a task writes ``owner-<username>`` and
``team-<slug>`` tags on the guest, keeping its other tags. Invariants:

- Steward's ledger is the truth; the tags are a courtesy for people working in the
  Proxmox UI. Nothing in Steward reads them back (the sync stores tags like any others,
  and rules never give ownership from them).
- Tags starting with ``owner-`` or ``team-`` belong to Steward: each write replaces all
  of them, so a stale one left by an earlier owner disappears.
- A write carries the digest of the config it was computed from; a change in between
  (``ProxmoxDigestMismatch``) or a lock (``ProxmoxLocked``) makes the task re-schedule
  itself and recompute from a fresh read, never sleep.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction

from governance.audit.services import audit_record
from governance.ownership.models import Ownership
from inventory.models import VirtualMachine
from inventory.proxmox import ProxmoxGateway
from inventory.services.clusters import cluster_endpoint

PREFIXES = ("owner-", "team-")
# PVE's tag format (pve-tag): a letter, digit or _ first, then those and - + . only.
_NOT_TAG = re.compile(r"[^a-z0-9_+.-]")


def tag_for(prefix: str, name: str) -> str:
    """``owner-``/``team-`` plus ``name`` folded into PVE's tag alphabet (lower case;
    other characters, like ``@`` in usernames, become ``-``)."""
    return prefix + _NOT_TAG.sub("-", name.lower())


def mirrored_tags(tags: Iterable[str], *, owner: str | None, team: str | None) -> list[str]:
    """``tags`` without Steward's old owner/team tags, plus the current ones; sorted."""
    kept = {tag for tag in tags if tag and not tag.lower().startswith(PREFIXES)}
    if owner:
        kept.add(tag_for("owner-", owner))
    if team:
        kept.add(tag_for("team-", team))
    return sorted(kept)


def _split(raw: str) -> list[str]:
    return [tag for tag in re.split(r"[;, ]+", raw.strip()) if tag]


def ownership_tags_mirror(*, vm_id: int, gateway: ProxmoxGateway | None = None) -> bool:
    """Write the VM's current owner and team as tags; whether anything was written.

    Reads the guest config first and writes only when the tags differ, with its digest.
    Destroyed guests and guests without a node are skipped. Proxmox errors propagate
    (the task decides whether to try again).
    """
    vm = VirtualMachine.objects.select_related("cluster", "node").get(pk=vm_id)
    if vm.gone_since is not None or vm.node is None:
        return False
    current = (
        Ownership.objects.filter(vm_id=vm_id, until__isnull=True)
        .select_related("owner", "team")
        .first()
    )
    owner = current.owner.get_username() if current and current.owner else None
    team = current.team.slug if current and current.team else None
    gateway = gateway or ProxmoxGateway(cluster_endpoint(vm.cluster))
    where: dict[str, Any] = {"node": vm.node.name, "kind": vm.kind, "vmid": vm.vmid}
    config = gateway.guest_config(**where)
    before = _split(config.values.get("tags", ""))
    after = mirrored_tags(before, owner=owner, team=team)
    if sorted(before) == after:
        return False
    if after:
        gateway.guest_config_update(**where, digest=config.digest, values={"tags": ";".join(after)})
    else:
        gateway.guest_config_update(**where, digest=config.digest, delete=["tags"])
    audit_record(
        actor=None,
        action="ownership.tags_mirrored",
        target=vm,
        before={"tags": before},
        after={"tags": after},
    )
    return True


def mirror_after_commit(vm_ids: Iterable[int]) -> None:
    """Queue a tag write for each VM once the current transaction commits (if enabled)."""
    if not settings.STEWARD_MIRROR_OWNER_TAGS:
        return
    ids = sorted(set(vm_ids))
    if not ids:
        return

    def queue() -> None:
        from governance.ownership.tasks import mirror_owner_tags

        for vm_id in ids:
            mirror_owner_tags.delay(vm_id)

    transaction.on_commit(queue)
