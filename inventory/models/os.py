"""What operating system a guest runs (from its guest agent) and when OS releases end."""

from __future__ import annotations

from django.db import models

from inventory.models.guests import VirtualMachine


class GuestOsInfo(models.Model):
    """The last answer of a guest's agent to ``get-osinfo``; at most one row per guest.

    ``read_at`` is the last successful read (null: never answered); ``checked_at`` the
    last attempt. A failed attempt keeps the values last read and counts ``failures``,
    which spaces out the next attempts (see ``inventory.sync.osinfo``).
    """

    vm = models.OneToOneField(VirtualMachine, on_delete=models.CASCADE, related_name="osinfo")
    os_id = models.CharField(max_length=50, blank=True)
    name = models.CharField(max_length=100, blank=True)
    version_id = models.CharField(max_length=50, blank=True)
    pretty_name = models.CharField(max_length=200, blank=True)
    kernel_release = models.CharField(max_length=100, blank=True)
    machine = models.CharField(max_length=30, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["vm"]
        indexes = [models.Index(fields=["os_id", "version_id"], name="inventory_osinfo_os_idx")]

    def __str__(self) -> str:
        return self.pretty_name or f"{self.os_id} {self.version_id}".strip() or "unknown"


class OsRelease(models.Model):
    """One OS release and the day its vendor support ends; admins keep the table.

    A release is named either by what a guest agent reports (``os_id`` + ``version``,
    e.g. ``debian`` + ``12``) or by a Proxmox config ``ostype`` that is old enough to
    say it alone (``win7``), never both. ``end_of_life`` null means "not known yet".
    """

    label = models.CharField(max_length=100)
    os_id = models.CharField(max_length=50, blank=True)
    version = models.CharField(max_length=50, blank=True)
    ostype = models.CharField(max_length=30, blank=True)
    end_of_life = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["os_id", "version", "ostype", "id"]
        indexes = [
            models.Index(fields=["os_id", "version", "ostype", "id"], name="inventory_osrel_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["os_id", "version"],
                condition=~models.Q(os_id=""),
                name="inventory_osrel_unique_agent",
                violation_error_message="This OS id and version already have a row.",
            ),
            models.UniqueConstraint(
                fields=["ostype"],
                condition=~models.Q(ostype=""),
                name="inventory_osrel_unique_ostype",
                violation_error_message="This ostype already has a row.",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(ostype="") & ~models.Q(os_id="") & ~models.Q(version="")
                    | ~models.Q(ostype="") & models.Q(os_id="", version="")
                ),
                name="inventory_osrel_one_key",
                violation_error_message=(
                    "Name the release either by agent OS id and version or by ostype."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.label
