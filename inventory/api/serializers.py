"""Serializers of the inventory API; the token secret is write-only."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.models import (
    Cluster,
    Copy,
    GuestDevice,
    GuestDisk,
    GuestNic,
    Lineage,
    Node,
    ProxmoxTask,
    Residency,
    Storage,
    StorageClass,
    StorageNodeStatus,
    SyncRun,
    VirtualMachine,
)
from inventory.selectors.guests import is_dormant
from inventory.selectors.os_releases import vm_os


class FieldSelectionMixin:
    """``?fields=a,b`` keeps only those fields of each object (unknown names are ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        wanted = request.query_params.get("fields", "") if request is not None else ""
        if wanted:
            keep = {name.strip() for name in wanted.split(",")}
            for name in list(self.fields):
                if name not in keep:
                    self.fields.pop(name)


class ClusterSerializer(serializers.ModelSerializer):
    token_secret = serializers.CharField(write_only=True, max_length=200)
    url = serializers.CharField(source="api_url", max_length=300)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "url",
            "token_id",
            "token_secret",
            "fingerprint",
            "ca_bundle",
            "insecure",
            "enabled",
            "pve_version",
            "last_sync_at",
            "last_sync_status",
            "last_sync_error",
            "created_at",
        ]
        read_only_fields = [
            "enabled",
            "pve_version",
            "last_sync_at",
            "last_sync_status",
            "last_sync_error",
            "created_at",
        ]
        extra_kwargs = {"name": {"validators": []}}


class NodeSerializer(serializers.ModelSerializer):
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Node
        fields = [
            "id",
            "cluster",
            "name",
            "status",
            "maxcpu",
            "maxmem",
            "first_seen",
            "last_seen",
            "gone_since",
        ]


class StorageNodeStatusSerializer(serializers.ModelSerializer):
    node = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = StorageNodeStatus
        fields = ["node", "status", "disk", "maxdisk", "updated_at"]


class StorageSerializer(serializers.ModelSerializer):
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    node_statuses = StorageNodeStatusSerializer(many=True, read_only=True)
    storage_class = serializers.ChoiceField(choices=StorageClass.choices)

    class Meta:
        model = Storage
        fields = [
            "id",
            "cluster",
            "name",
            "plugintype",
            "shared",
            "content",
            "storage_class",
            "node_statuses",
            "first_seen",
            "last_seen",
            "gone_since",
        ]
        read_only_fields = [
            "name",
            "plugintype",
            "shared",
            "content",
            "first_seen",
            "last_seen",
            "gone_since",
        ]


class VirtualMachineListSerializer(FieldSelectionMixin, serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    node = serializers.CharField(source="node.name", read_only=True, default=None)
    dormant = serializers.SerializerMethodField()

    class Meta:
        model = VirtualMachine
        fields = [
            "id",
            "cluster",
            "vmid",
            "kind",
            "name",
            "node",
            "status",
            "tags",
            "pool",
            "template",
            "lock",
            "hastate",
            "classification",
            "smbios_uuid",
            "vmgenid",
            "ostype",
            "maxcpu",
            "maxmem",
            "maxdisk",
            "first_seen",
            "last_seen",
            "last_running",
            "gone_since",
            "dormant",
        ]

    def get_dormant(self, vm: VirtualMachine) -> bool:
        return is_dormant(vm)


class NicSerializer(serializers.ModelSerializer):
    class Meta:
        model = GuestNic
        fields = ["key", "mac", "model", "bridge"]


class DiskSerializer(serializers.ModelSerializer):
    storage_class = serializers.CharField(
        source="storage.storage_class", default=None, allow_null=True
    )

    class Meta:
        model = GuestDisk
        fields = ["key", "storage_name", "storage_class", "volume", "size", "is_cdrom", "media"]


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = GuestDevice
        fields = ["key", "kind", "value"]


class VirtualMachineDetailSerializer(VirtualMachineListSerializer):
    nics = NicSerializer(many=True, read_only=True)
    disks = DiskSerializer(many=True, read_only=True)
    devices = DeviceSerializer(many=True, read_only=True)
    os = serializers.SerializerMethodField(
        help_text="OS from the guest agent (empty when it never answered), the matched "
        "release and whether its support has ended"
    )

    class Meta(VirtualMachineListSerializer.Meta):
        fields = [
            *VirtualMachineListSerializer.Meta.fields,
            "config",
            "config_pending",
            "config_digest",
            "config_read_at",
            "agent_enabled",
            "has_rng",
            "nics",
            "disks",
            "devices",
            "os",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_os(self, vm: VirtualMachine) -> dict[str, Any]:
        return vm_os(vm)


class ResidencySerializer(serializers.ModelSerializer):
    node = serializers.CharField(source="node.name", read_only=True)

    class Meta:
        model = Residency
        fields = [
            "id",
            "vm",
            "node",
            "storage_names",
            "started_at",
            "ended_at",
            "cause",
            "task_upid",
        ]


class CopySerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    storage = serializers.CharField(
        source="storage.name", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Copy
        fields = [
            "id",
            "vm",
            "cluster",
            "source_vmid",
            "kind",
            "name",
            "storage",
            "storage_class",
            "size",
            "vmstate",
            "parent",
            "created_at",
            "deleted_at",
            "task_upid",
        ]


class LineageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lineage
        fields = ["id", "parent", "child", "kind", "task_upid", "detected_at"]


class TaskSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)

    class Meta:
        model = ProxmoxTask
        fields = [
            "id",
            "cluster",
            "upid",
            "node",
            "type",
            "vmid",
            "user",
            "starttime",
            "endtime",
            "status",
        ]


class SyncRunSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", read_only=True)

    class Meta:
        model = SyncRun
        fields = ["id", "cluster", "started_at", "finished_at", "status", "full", "stats", "error"]
