"""``manage.py rotate_secrets [--dry-run]``: re-encrypt every secret at rest under the
newest ``FIELD_ENCRYPTION_KEYS`` key (see ``governance.core.secrets``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.core.secrets import UndecryptableSecretsError, secrets_rotate


class Command(BaseCommand):
    help = "Re-encrypt every secret stored at rest under the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = secrets_rotate(dry_run=options["dry_run"])
        except UndecryptableSecretsError as error:
            raise CommandError(str(error)) from error
        verb = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        for label, count in counts.items():
            self.stdout.write(f"{label}: {verb} {count}")
        if not options["dry_run"]:
            self.stdout.write(self.style.SUCCESS("Done. The old key can now be removed."))
