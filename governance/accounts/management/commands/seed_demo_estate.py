"""``manage.py seed_demo_estate``: owners, storage classes and audit policies for the demo.

Without it every end user and manager of the demo sees empty pages (nobody owns a VM),
nobody can ask for a new VM (no storage is approved) and no violation is ever shown.
It runs after the first sync of pvesim's demo clusters, as the demo admin, through the
same services an admin's clicks use, so the audit trail shows it. It only fills gaps: a
VM that already has holders, a storage already classed and a policy of the same name
are left as someone set them, so re-running the demo never undoes what was changed by
hand. The policies only report (audit mode): the demo never changes a guest on its own.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Exists, OuterRef, Q

from governance.accounts.models import Team, User
from governance.ownership.models import Ownership
from governance.ownership.services import ownership_assign_bulk
from inventory.models import Cluster, Storage, StorageClass, VirtualMachine
from inventory.services.clusters import storage_classify
from policy.models import Policy
from policy.services.policies import policy_save
from policy.services.reconcile import reconcile

#: Demo storage name -> class: guest disks on shared and thin storage, backups on PBS.
STORAGE_CLASSES = {
    "ceph-rbd": StorageClass.APPROVED,
    "local-lvm": StorageClass.APPROVED,
    "local": StorageClass.APPROVED,
    "pbs": StorageClass.APPROVED,
    "nfs-iso": StorageClass.EXTERNAL,
    "usb-backup": StorageClass.REMOVABLE,
}

#: Guest name prefixes -> (team, owner, custodian). Others stay unowned, to be claimed.
HOLDERS = (
    (("fin-",), "Finance", "alice", None),
    (("research-", "lab-"), "Research", "carol", "bob"),
    (("eng-", "it-", "ops-", "tpl-"), "Platform", "bob", "alice"),
)
#: Report-only policies the demo estate breaks: unowned guests, removable media.
POLICIES = (
    {"name": "Every VM has an owner", "kind": "ownership_required", "mode": "audit"},
    {"name": "No removable media", "kind": "no_removable_media", "mode": "audit"},
)
ACTOR = "admin"


class Command(BaseCommand):
    help = "Classify the demo storages and give the demo VMs owners (only what is unset)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            help="seconds to wait for the first sync of every enabled cluster",
        )

    def handle(self, *args: Any, wait: float, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo_estate is for the demo; DEBUG is off.")
        actor = User.objects.filter(username=ACTOR).first()
        if actor is None:
            raise CommandError(f"no user {ACTOR!r}; run seed_demo first.")
        if not self._synced(wait):
            self.stdout.write("the first sync has not finished; demo VMs stay unowned")
            return
        classified = self._classify(actor)
        assigned = self._assign(actor)
        created = self._policies(actor)
        self.stdout.write(
            f"{classified} storages classified, {assigned} VMs given owners, "
            f"{created} policies created"
        )

    @staticmethod
    def _synced(wait: float) -> bool:
        deadline = time.monotonic() + wait
        while True:
            # A run sets the time when it ends; later runs may show "running" meanwhile.
            pending = Cluster.objects.filter(enabled=True, last_sync_at__isnull=True)
            if not pending.exists():
                return Cluster.objects.exists()
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)

    @staticmethod
    def _classify(actor: User) -> int:
        storages = Storage.objects.filter(
            name__in=STORAGE_CLASSES,
            storage_class=StorageClass.UNCLASSIFIED,
            gone_since__isnull=True,
        )
        for storage in storages:
            storage_classify(
                actor=actor, storage=storage, storage_class=STORAGE_CLASSES[storage.name]
            )
        return len(storages)

    @staticmethod
    def _assign(actor: User) -> int:
        held = Ownership.objects.filter(vm=OuterRef("pk"), until__isnull=True)
        unowned = VirtualMachine.objects.filter(gone_since__isnull=True).exclude(Exists(held))
        users = {user.username: user for user in User.objects.filter(is_active=True)}
        total = 0
        for prefixes, team_name, owner, custodian in HOLDERS:
            team = Team.objects.filter(name=team_name).first()
            if team is None or owner not in users:
                continue
            matching = Q()
            for prefix in prefixes:
                matching |= Q(name__startswith=prefix)
            total += ownership_assign_bulk(
                actor=actor,
                vms_qs=unowned.filter(matching),
                owner=users[owner],
                custodian=users.get(custodian) if custodian else None,
                team=team,
                reason="demo data",
            )
        return total

    @staticmethod
    def _policies(actor: User) -> int:
        """Create the demo policies missing by name; their first violations at once."""
        missing = [
            document
            for document in POLICIES
            if not Policy.objects.filter(name=document["name"]).exists()
        ]
        every_cluster = {"clusters": sorted(Cluster.objects.values_list("name", flat=True))}
        for document in missing:
            policy_save(
                actor=actor, document={**document, "scope": every_cluster}, comment="demo data"
            )
        if missing:
            reconcile(trigger="demo", actor=actor)
        return len(missing)
