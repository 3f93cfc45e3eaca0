"""Team quotas: how much a team may own, checked when its requests are submitted.

Invariants:
- A team has at most one quota for all clusters (``cluster`` null) and at most one per
  cluster; a request must fit every one that applies to the cluster it lands on. No row,
  or an empty limit, means unlimited.
- A limit of 0 allows nothing of that kind (no new VM, core, MiB or GiB).
- Only ``governance.approvals.services.quota.quota_set`` writes rows, and it records the
  change (before and after) as an audit event: the audit chain is the quota's history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.accounts.models import Team

#: The limits of a quota, each with the words a refusal uses for it.
LIMITS: dict[str, str] = {
    "max_vms": "VMs",
    "max_cores": "vCPU cores",
    "max_memory_mib": "MiB of memory",
    "max_disk_gib": "GiB of disk",
}


class TeamQuota(models.Model):
    """The most a team may own (live, non-template guests plus its open requests), on one
    cluster or, with ``cluster`` null, on all; one per team and cluster."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="quotas")
    # A cluster's limits go with the cluster: nothing of the team is left there to count.
    cluster = models.ForeignKey(
        "inventory.Cluster",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="team_quotas",
    )
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
        # By the columns, not the related models: select_for_update must not outer-join.
        ordering = ["team_id", "cluster_id"]
        indexes = [models.Index(fields=["team", "cluster"], name="approvals_quota_team_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["team"],
                condition=Q(cluster__isnull=True),
                name="approvals_quota_one_for_all_clusters",
                violation_error_message="The team already has a quota for all clusters.",
            ),
            models.UniqueConstraint(
                fields=["team", "cluster"],
                condition=Q(cluster__isnull=False),
                name="approvals_quota_one_per_cluster",
                violation_error_message="The team already has a quota on this cluster.",
            ),
        ]

    def __str__(self) -> str:
        where = "all clusters" if self.cluster_id is None else f"cluster {self.cluster_id}"
        return f"quota of team {self.team_id} on {where}"

    def limits(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in LIMITS}
