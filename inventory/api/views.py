"""Inventory API viewsets. Every queryset goes through ``restrict``: objects a user may
not see answer 404; writes (cluster registration, storage class) need admin rights (403)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from governance.core.permissions import can, restrict
from inventory.api.pagination import KeysetPagination
from inventory.api.serializers import (
    ClusterSerializer,
    CopySerializer,
    LineageSerializer,
    NodeSerializer,
    ResidencySerializer,
    StorageSerializer,
    SyncRunSerializer,
    TaskSerializer,
    VirtualMachineDetailSerializer,
    VirtualMachineListSerializer,
)
from inventory.forms.guests import VmFilterForm
from inventory.models import (
    Cluster,
    Copy,
    Lineage,
    Node,
    ProxmoxTask,
    Residency,
    Storage,
    StorageNodeStatus,
    SyncRun,
)
from inventory.selectors.guests import vm_list, vm_visible
from inventory.services.clusters import ClusterConnectionFailed, cluster_register, storage_classify


def _drf_error(error: DjangoValidationError) -> ValidationError:
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)


class _Restricted:
    """Mixin: the viewset's ``queryset`` narrowed to what the user may view."""

    def get_queryset(self) -> QuerySet:
        return restrict(super().get_queryset(), self.request.user)  # type: ignore[misc]


class ClusterViewSet(_Restricted, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Clusters. ``POST`` (admins) tests the connection, then registers; the answer carries
    the connection report. ``token_secret`` is write-only."""

    queryset = Cluster.objects.all()
    serializer_class = ClusterSerializer
    lookup_field = "name"

    @extend_schema(
        responses={
            201: inline_serializer(
                "ClusterRegistered",
                {"cluster": ClusterSerializer(), "connection_report": serializers.JSONField()},
            )
        }
    )
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        if not request.user.has_perm("inventory.add_cluster"):
            raise PermissionDenied
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            registration = cluster_register(
                actor=request.user,
                name=data["name"],
                url=data["api_url"],
                token_id=data["token_id"],
                token_secret=data["token_secret"],
                fingerprint=data.get("fingerprint", ""),
                ca_bundle=data.get("ca_bundle", ""),
                insecure=data.get("insecure", False),
            )
        except ClusterConnectionFailed as failure:
            raise ValidationError({"connection": [failure.report.message]}) from failure
        except DjangoValidationError as error:
            raise _drf_error(error) from error
        body = {
            "cluster": ClusterSerializer(registration.cluster).data,
            "connection_report": registration.report.as_dict(),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class NodeViewSet(_Restricted, viewsets.ReadOnlyModelViewSet):
    queryset = Node.objects.select_related("cluster")
    serializer_class = NodeSerializer
    filterset_fields = ["cluster__name", "status"]


class StorageViewSet(_Restricted, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Storage with per-node status. ``PATCH {"storage_class": ...}`` (admins) classifies."""

    queryset = Storage.objects.select_related("cluster").prefetch_related(
        Prefetch("node_statuses", queryset=StorageNodeStatus.objects.select_related("node"))
    )
    serializer_class = StorageSerializer
    filterset_fields = ["cluster__name", "storage_class"]
    http_method_names = ["get", "patch", "head", "options"]

    def perform_update(self, serializer: Any) -> None:
        storage = serializer.instance
        if not can(self.request.user, "change", storage):
            raise PermissionDenied
        if "storage_class" not in serializer.validated_data:
            raise ValidationError({"storage_class": ["This field is required."]})
        serializer.instance = storage_classify(
            actor=self.request.user,
            storage=storage,
            storage_class=serializer.validated_data["storage_class"],
        )


_VM_FILTERS = [
    OpenApiParameter(name, OpenApiTypes.STR, description=description)
    for name, description in [
        ("q", "Search: a vmid, a MAC, an SMBIOS UUID or part of a name"),
        ("cluster", "Cluster name"),
        ("node", "Node name"),
        ("status", "running, stopped, paused, unknown"),
        ("tag", "One tag"),
        ("classification", "public, internal, sensitive"),
        ("kind", "qemu or lxc"),
        ("dormant", "yes or no"),
        ("template", "yes or no"),
        ("gone", "yes: destroyed guests instead of live ones"),
        ("sort", "name, vmid, cluster, status, last_seen; prefix - for descending"),
        ("fields", "Comma-separated fields to return"),
        ("page_size", "Rows per page (max 1000)"),
        ("cursor", "The next or previous link's cursor"),
    ]
]


@extend_schema_view(list=extend_schema(parameters=_VM_FILTERS))
class VirtualMachineViewSet(viewsets.ReadOnlyModelViewSet):
    """Guests, with the VM page's filters, search and sorts; keyset pages."""

    pagination_class = KeysetPagination
    filter_backends: list = []

    def _form(self) -> VmFilterForm:
        form = VmFilterForm(self.request.query_params)
        if not form.is_valid():
            # The API's error shape: a list of messages per field.
            raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
        return form

    def keyset_order(self) -> list[str]:
        return self._form().order()[1]

    def get_queryset(self) -> QuerySet:
        if self.action == "list":
            return vm_list(user=self.request.user, filters=self._form().filters())
        return vm_visible(user=self.request.user).prefetch_related(
            "nics", "devices", "disks__storage"
        )

    def get_serializer_class(self) -> type:
        if self.action == "list":
            return VirtualMachineListSerializer
        return VirtualMachineDetailSerializer


class _VmLedger(_Restricted, viewsets.ReadOnlyModelViewSet):
    """A ledger filtered by ``?vm=<id>``; cursor pages newest id first."""

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if vm := self.request.query_params.get("vm"):
            if not vm.isdigit():
                raise ValidationError({"vm": ["Must be a guest id."]})
            queryset = queryset.filter(vm_id=int(vm))
        return queryset


_VM_PARAM = [OpenApiParameter("vm", OpenApiTypes.INT, description="Guest id")]


@extend_schema_view(list=extend_schema(parameters=_VM_PARAM))
class ResidencyViewSet(_VmLedger):
    queryset = Residency.objects.select_related("node")
    serializer_class = ResidencySerializer


@extend_schema_view(list=extend_schema(parameters=_VM_PARAM))
class CopyViewSet(_VmLedger):
    queryset = Copy.objects.select_related("cluster", "storage")
    serializer_class = CopySerializer
    filterset_fields = ["kind"]


@extend_schema_view(list=extend_schema(parameters=_VM_PARAM))
class LineageViewSet(_Restricted, viewsets.ReadOnlyModelViewSet):
    """Lineage edges; ``?vm=<id>`` gives those where the guest is parent or child."""

    queryset = Lineage.objects.all()
    serializer_class = LineageSerializer

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if vm := self.request.query_params.get("vm"):
            if not vm.isdigit():
                raise ValidationError({"vm": ["Must be a guest id."]})
            queryset = queryset.filter(Q(parent_id=int(vm)) | Q(child_id=int(vm)))
        return queryset


class TaskViewSet(_Restricted, viewsets.ReadOnlyModelViewSet):
    queryset = ProxmoxTask.objects.select_related("cluster")
    serializer_class = TaskSerializer
    filterset_fields = ["cluster__name", "vmid", "type"]


class SyncRunViewSet(_Restricted, viewsets.ReadOnlyModelViewSet):
    queryset = SyncRun.objects.select_related("cluster")
    serializer_class = SyncRunSerializer
    filterset_fields = ["cluster__name", "status"]
