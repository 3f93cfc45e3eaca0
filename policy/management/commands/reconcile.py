"""``manage.py reconcile [--dry-run] [--policy NAME] [--cluster NAME]``: one reconcile
cycle now, printing the findings and the remediations planned (or, with ``--dry-run``,
the ones that would be; nothing is written then)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.models import Cluster
from policy.services import UnknownPolicyError, reconcile


class Command(BaseCommand):
    help = "Evaluate policies, record violations and plan remediations (or preview them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Change nothing; show the plan.")
        parser.add_argument("--policy", help="Only this enabled policy (by name).")
        parser.add_argument("--cluster", help="Only this cluster (by name).")

    def handle(self, *args: Any, **options: Any) -> None:
        cluster_id = None
        if name := options["cluster"]:
            cluster_id = Cluster.objects.filter(name=name).values_list("pk", flat=True).first()
            if cluster_id is None:
                raise CommandError(f'No cluster is named "{name}".')
        dry_run = options["dry_run"]
        try:
            result = reconcile(
                cluster_id=cluster_id,
                policy=options["policy"],
                dry_run=dry_run,
                trigger="manage.py reconcile",
            )
        except UnknownPolicyError as error:
            raise CommandError(str(error)) from error
        write = self.stdout.write
        for f in sorted(result.findings, key=lambda f: (f.policy_name, f.cluster_id, f.vmid or 0)):
            where = f"vm {f.vmid}" if f.vmid is not None else f"cluster {f.cluster_id}"
            flag = " [exempt]" if f.exempt else ""
            write(f"{f.policy_name} ({f.mode}) {where} {f.rule_key}: {f.summary}{flag}")
        verb = "would run" if dry_run else "planned"
        for planned in result.planned:
            a = planned.action
            where = f"vm {a.vmid} on {a.node}" if a.vmid is not None else f"cluster {a.cluster_id}"
            write(f"{verb}: {a.kind} {where}: {a.description}")
        summary = f"{len(result.findings)} finding(s) over {result.guests} guest(s); "
        summary += f"{len(result.planned)} remediation(s) {verb}"
        if result.record is not None:
            summary += (
                f"; {len(result.record.opened)} violation(s) opened, "
                f"{len(result.record.resolved_ids)} resolved"
            )
        write(self.style.SUCCESS(summary + (" (dry run: nothing changed)" if dry_run else "")))
