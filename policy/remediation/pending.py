"""Device removals Proxmox has taken but applies only at the guest's next cold start.

A running guest cannot hot-unplug a PCI function or a serial port: PVE keeps the deletion
in the config's pending section and the device stays in effect until the guest stops and
starts again. The sync keeps that section apart (``VirtualMachine.config_pending``: key ->
value, or None for a pending removal). Writing the deletion again would change nothing,
so such a finding keeps its violation open (the device is still there) but has nothing
left to do: no remedies, evidence ``removal_pending``, and the violation's remediation
state says the removal waits for a cold start. Once the guest restarts cold, the sync sees
the device gone and the violation resolves like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from inventory.models import VirtualMachine
from policy.findings import Finding
from policy.models import PolicyKind, RemediationState, Violation

PENDING_NOTE = "removal pending until the guest's next cold start"


def removals_pending(findings: Sequence[Finding]) -> set[tuple]:
    """Mark the passthrough-device findings whose removal already waits in the guest's
    pending section (no remedies, evidence and summary say so); their identities."""
    devices = [
        f
        for f in findings
        if f.policy_kind == PolicyKind.NO_REMOVABLE_MEDIA
        and f.vm_id is not None
        and "device" in f.evidence
    ]
    if not devices:
        return set()
    # Few guests have anything pending: read those (no IN list of every finding's guest).
    waiting_rows = VirtualMachine.objects.filter(gone_since__isnull=True).exclude(config_pending={})
    pending: dict[int, Mapping] = dict(waiting_rows.values_list("pk", "config_pending"))
    marked: set[tuple] = set()
    for finding in devices:
        waiting = pending.get(finding.vm_id or 0, {})
        if finding.rule_key in waiting and waiting[finding.rule_key] is None:
            finding.remedies = ()
            finding.evidence = {**finding.evidence, "removal_pending": True}
            finding.summary = f"{finding.summary} ({PENDING_NOTE})"
            marked.add(finding.identity)
    return marked


def removals_pending_record(
    identities: Iterable[tuple], violation_ids: Mapping[tuple, int]
) -> None:
    """Show the open violations of ``identities`` as waiting for a cold start."""
    ids = [violation_ids[i] for i in identities if i in violation_ids]
    if ids:
        Violation.objects.filter(pk__in=ids).exclude(
            remediation_state=RemediationState.REMOVAL_PENDING
        ).update(remediation_state=RemediationState.REMOVAL_PENDING)
