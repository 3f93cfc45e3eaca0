"""Team quotas: how much a team may own, checked when its requests are submitted.

Invariants:
- A team has at most one quota; no row, or an empty limit, means unlimited.
- A limit of 0 allows nothing of that kind (no new VM, core, MiB or GiB).
- Only ``governance.approvals.services.quota.quota_set`` writes rows, and it records the
  change (before and after) as an audit event: the audit chain is the quota's history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.accounts.models import Team

#: The limits of a quota, each with the words a refusal uses for it.
LIMITS: dict[str, str] = {
    "max_vms": "VMs",
    "max_cores": "vCPU cores",
    "max_memory_mib": "MiB of memory",
    "max_disk_gib": "GiB of disk",
}


class TeamQuota(models.Model):
    """The most a team may own (live, non-template guests plus its open requests); one per team."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="quota")
    max_vms = models.PositiveIntegerField(null=True, blank=True, verbose_name="max VMs")
    max_cores = models.PositiveIntegerField(null=True, blank=True, verbose_name="max vCPU cores")
    max_memory_mib = models.PositiveIntegerField(
        null=True, blank=True, verbose_name="max memory (MiB)"
    )
    max_disk_gib = models.PositiveIntegerField(null=True, blank=True, verbose_name="max disk (GiB)")
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="team_quotas_set",
    )

    class Meta:
        # The one-to-one's unique index on team doubles as the ordering index.
        ordering = ["team"]

    def __str__(self) -> str:
        return f"quota of team {self.team_id}"

    def limits(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in LIMITS}
