"""``manage.py audit_verify``: walk the audit hash chain; exit 1 at the first broken link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.audit.verify import chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and report the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=2000, help="rows per fetch")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        report = chain_verify(batch_size=batch_size)
        if not report.ok:
            raise CommandError(
                f"BROKEN at sequence {report.broken_at}: {report.problem} "
                f"({report.checked} events verified before it)",
                returncode=1,
            )
        self.stdout.write(f"OK: {report.checked} audit events verified")
