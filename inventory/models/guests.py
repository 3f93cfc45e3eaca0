"""Guests (QEMU VMs and LXC containers) and the facts parsed from their configs."""

from __future__ import annotations

from django.db import models

from inventory.models.clusters import Cluster, Node, Storage


class GuestKind(models.TextChoices):
    QEMU = "qemu", "QEMU VM"
    LXC = "lxc", "LXC container"


class Classification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    SENSITIVE = "sensitive", "Sensitive"


class VirtualMachine(models.Model):
    """A guest as last seen; at most one live row (``gone_since`` null) per (cluster, vmid).

    A destroyed guest keeps its row (``gone_since`` set) so its ledgers survive; a new guest
    reusing the vmid gets a new row. ``config`` is the raw config in effect as last read
    (changes waiting for a cold start apart, in ``config_pending``), guarded by
    ``config_digest``; the parsed facts (nics, disks, devices) are rewritten together
    with it. So that an unchanged estate costs no writes, ``last_seen`` is stamped when the
    row changes or goes gone (a live row was also seen at its cluster's ``last_sync_at``)
    and ``last_running`` when the guest starts or stops running (for a running guest,
    "now").
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="guests")
    vmid = models.PositiveIntegerField()
    kind = models.CharField(max_length=4, choices=GuestKind.choices)
    name = models.CharField(max_length=200, blank=True)
    node = models.ForeignKey(
        Node, on_delete=models.PROTECT, null=True, blank=True, related_name="guests"
    )
    status = models.CharField(max_length=20, default="unknown")
    tags = models.JSONField(default=list, blank=True)
    # ";"-joined copy of ``tags`` so search and filters work with a plain LIKE/index.
    tags_text = models.CharField(max_length=500, blank=True, db_index=True)
    pool = models.CharField(max_length=100, blank=True)
    template = models.BooleanField(default=False)
    lock = models.CharField(max_length=30, blank=True)
    hastate = models.CharField(max_length=30, blank=True)
    config = models.JSONField(default=dict, blank=True)
    # Changes waiting for the next cold start (key -> new value, null for a removal);
    # ``config`` and the parsed facts say what is in effect.
    config_pending = models.JSONField(default=dict, blank=True)
    config_digest = models.CharField(max_length=64, blank=True)
    config_read_at = models.DateTimeField(null=True, blank=True)
    vmgenid = models.CharField(max_length=64, blank=True)
    smbios_uuid = models.CharField(max_length=64, blank=True, db_index=True)
    ostype = models.CharField(max_length=30, blank=True)
    agent_enabled = models.BooleanField(default=False)
    has_rng = models.BooleanField(default=False)
    maxcpu = models.PositiveIntegerField(default=0)
    maxmem = models.PositiveBigIntegerField(default=0)
    maxdisk = models.PositiveBigIntegerField(default=0)
    classification = models.CharField(
        max_length=10, choices=Classification.choices, default=Classification.INTERNAL
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    last_running = models.DateTimeField(null=True, blank=True)
    gone_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cluster", "vmid", "id"]
        indexes = [
            models.Index(fields=["cluster", "vmid", "id"], name="inventory_vm_order_idx"),
            models.Index(fields=["node", "status"], name="inventory_vm_node_status_idx"),
            models.Index(fields=["status"], name="inventory_vm_status_idx"),
            models.Index(fields=["gone_since"], name="inventory_vm_gone_idx"),
            models.Index(fields=["name"], name="inventory_vm_name_idx"),
            models.Index(fields=["last_running"], name="inventory_vm_last_running_idx"),
            # Live guests oldest first ("unowned, oldest first" stops after a page).
            models.Index(
                fields=["first_seen", "id"],
                condition=models.Q(gone_since__isnull=True),
                name="inventory_vm_live_seen_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "vmid"],
                condition=models.Q(gone_since__isnull=True),
                name="inventory_vm_unique_live_vmid",
                violation_error_message="A cluster has at most one live guest per vmid.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vmid} {self.name}".strip()


class GuestNic(models.Model):
    """A network interface of a guest's current config (``net0``...), unique by key per guest."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="nics")
    key = models.CharField(max_length=20)
    mac = models.CharField(max_length=17, blank=True, db_index=True)
    model = models.CharField(max_length=30, blank=True)
    bridge = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["vm", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["vm", "key"],
                name="inventory_nic_unique_vm_key",
                violation_error_message="A guest has one interface per key.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.mac}"


class GuestDisk(models.Model):
    """A disk or CD-ROM drive of a guest's current config; ``storage`` is null for media
    outside any known storage (``none``, a physical ``cdrom``)."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="disks")
    key = models.CharField(max_length=20)
    storage = models.ForeignKey(
        Storage, on_delete=models.SET_NULL, null=True, blank=True, related_name="disks"
    )
    storage_name = models.CharField(max_length=100, blank=True)
    volume = models.CharField(max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    is_cdrom = models.BooleanField(default=False)
    media = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["vm", "key"]
        indexes = [models.Index(fields=["storage_name"], name="inventory_disk_storage_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["vm", "key"],
                name="inventory_disk_unique_vm_key",
                violation_error_message="A guest has one disk per key.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.volume or self.media}"


class DeviceKind(models.TextChoices):
    USB = "usb", "USB"
    PCI = "pci", "PCI passthrough"
    SERIAL = "serial", "Serial port"
    PARALLEL = "parallel", "Parallel port"
    CDROM = "cdrom", "CD-ROM"


class GuestDevice(models.Model):
    """A passthrough or removable-media device of a guest's current config, unique by key."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="devices")
    key = models.CharField(max_length=20)
    kind = models.CharField(max_length=10, choices=DeviceKind.choices)
    value = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["vm", "key"]
        indexes = [models.Index(fields=["kind"], name="inventory_device_kind_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["vm", "key"],
                name="inventory_device_unique_vm_key",
                violation_error_message="A guest has one device per key.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.value}"
