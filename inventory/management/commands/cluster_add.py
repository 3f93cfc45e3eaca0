"""``manage.py cluster_add NAME --url URL --token-id ID --token-secret SECRET (trust)``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.services.clusters import ClusterConnectionFailed, cluster_register
from inventory.services.connection import ConnectionReport


def format_report(report: ConnectionReport) -> str:
    """The connection report as lines of text (no secret in it)."""
    lines = [f"Endpoint: {report.endpoint}"]
    if report.reached:
        lines.append(f"Proxmox VE {report.version} (release {report.release})")
        if report.cluster_name:
            quorum = "quorate" if report.quorate else "NOT quorate"
            lines.append(f"Cluster {report.cluster_name}, {quorum}")
        nodes = ", ".join(f"{n.name} ({'online' if n.online else 'offline'})" for n in report.nodes)
        lines.append(f"Nodes: {nodes or 'none visible to this token'}")
        for check in report.checks:
            state = "ok" if check.granted else "MISSING"
            lines.append(f"  {state:7} {check.required.privilege} on {check.required.path}")
    if report.message:
        lines.append(report.message)
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Test a Proxmox VE cluster connection and register the cluster (first sync queued)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="unique short name (a slug)")
        parser.add_argument("--url", required=True, help="https://host:8006")
        parser.add_argument("--token-id", required=True, help="user@realm!tokenname")
        parser.add_argument("--token-secret", required=True)
        trust = parser.add_mutually_exclusive_group(required=True)
        trust.add_argument("--fingerprint", help="the certificate's SHA-256 fingerprint")
        trust.add_argument("--ca-bundle", help="a PEM file with the CA certificate(s)")
        trust.add_argument("--insecure", action="store_true", help="do not verify TLS")

    def handle(self, *args: Any, **options: Any) -> None:
        ca_bundle = ""
        if options["ca_bundle"]:
            try:
                with open(options["ca_bundle"]) as handle:
                    ca_bundle = handle.read()
            except OSError as exc:
                raise CommandError(f"cannot read the CA bundle: {exc}") from exc
        try:
            registration = cluster_register(
                actor=None,
                name=options["name"],
                url=options["url"],
                token_id=options["token_id"],
                token_secret=options["token_secret"],
                fingerprint=options["fingerprint"] or "",
                ca_bundle=ca_bundle,
                insecure=options["insecure"],
            )
        except ClusterConnectionFailed as failure:
            self.stderr.write(format_report(failure.report))
            raise CommandError("connection test failed; nothing was saved") from failure
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(format_report(registration.report))
        self.stdout.write(
            self.style.SUCCESS(f"Registered {registration.cluster.name}; first sync queued.")
        )
