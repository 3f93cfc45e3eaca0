"""Ownership API: a VM's ownership with history, assignment (single and bulk), claims,
transfers, rules (read) and the dashboard as JSON.

Objects come through ``restrict`` / ``get_object_or_404_for`` (invisible: 404); acting
needs the right on top (403): admins assign, the services decide claims and transfers
and answer refused input with a ``ValidationError`` (400, the API's one error shape).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.models import Team, User
from governance.core.permissions import get_object_or_404_for, restrict
from governance.ownership import services, services_workflows
from governance.ownership.dashboard import dashboard_build
from governance.ownership.exports import dashboard_as_dict
from governance.ownership.forms import OwnershipFilterForm
from governance.ownership.lists import owned_vm_list
from governance.ownership.models import Claim, Ownership, OwnershipRule, Transfer
from governance.ownership.selectors import claimable_vm_get
from governance.ownership.views.dashboards import scope_from_params
from inventory.models import VirtualMachine

ASSIGN_PERMISSION = "ownership.add_ownership"


def _drf(error: DjangoValidationError) -> ValidationError:
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)


def _username(field: str) -> serializers.SlugRelatedField:
    # Inactive users resolve too: the services refuse them with a clear message.
    return serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )


class OwnershipSerializer(serializers.ModelSerializer):
    # Declared fields do not inherit the model's null=True: say it, so the schema does.
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    custodian = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    set_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Ownership
        fields = [
            "id",
            "owner",
            "custodian",
            "team",
            "lease_end",
            "since",
            "until",
            "set_by",
            "source",
            "reason",
        ]


class AssignSerializer(serializers.Serializer):
    """Fields left out keep the VM's current value; ``null`` clears it."""

    owner = _username("owner")
    custodian = _username("custodian")
    team = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True
    )
    lease_end = serializers.DateField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=500)


class BulkAssignSerializer(AssignSerializer):
    """``vms`` (ids) or ``filters`` (the VM list's query parameters), not both."""

    vms = serializers.ListField(child=serializers.IntegerField(), required=False)
    filters = serializers.DictField(child=serializers.CharField(), required=False)

    def validate(self, data: dict) -> dict:
        if ("vms" in data) == ("filters" in data):
            raise ValidationError("Give either vms (ids) or filters, not both.")
        return data


def _vm(request: Request, pk: int) -> VirtualMachine:
    return get_object_or_404_for(request.user, VirtualMachine.objects.all(), pk=pk)


_VM_ID = [OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="VM id")]


@extend_schema_view(
    retrieve=extend_schema(parameters=_VM_ID), assign=extend_schema(parameters=_VM_ID)
)
class VmOwnershipViewSet(viewsets.ViewSet):
    """``GET vms/<id>/``: current ownership and history; ``POST vms/<id>/assign/`` (admins)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "VmOwnership",
            {
                "vm": serializers.IntegerField(),
                "current": OwnershipSerializer(allow_null=True),
                "history": OwnershipSerializer(many=True),
            },
        )
    )
    def retrieve(self, request: Request, pk: int) -> Response:
        vm = _vm(request, pk)
        rows = list(
            Ownership.objects.filter(vm=vm)
            .select_related("owner", "custodian", "team", "set_by")
            .order_by("-since", "-id")
        )
        current = next((row for row in rows if row.until is None), None)
        return Response(
            {
                "vm": vm.pk,
                "current": OwnershipSerializer(current).data if current else None,
                "history": OwnershipSerializer(rows, many=True).data,
            }
        )

    @extend_schema(request=AssignSerializer, responses=OwnershipSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: int) -> Response:
        vm = _vm(request, pk)
        if not request.user.has_perm(ASSIGN_PERMISSION):
            raise PermissionDenied
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            row = services.ownership_assign(actor=request.user, vm=vm, **serializer.validated_data)
        except DjangoValidationError as error:
            raise _drf(error) from error
        return Response(OwnershipSerializer(row).data)

    @extend_schema(
        request=BulkAssignSerializer,
        responses=inline_serializer("BulkAssigned", {"changed": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="assign-bulk")
    def assign_bulk(self, request: Request) -> Response:
        """Assign the given VM ids, or every VM the filters match, as the VM list does."""
        if not request.user.has_perm(ASSIGN_PERMISSION):
            raise PermissionDenied
        serializer = BulkAssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        filters = OwnershipFilterForm(data.pop("filters", {}))
        if not filters.is_valid():
            errors = {field: list(messages) for field, messages in filters.errors.items()}
            raise ValidationError({"filters": errors})
        queryset = owned_vm_list(
            user=request.user, filters=filters.filters(), ownership=filters.ownership_filters()
        )
        if "vms" in data:
            queryset = queryset.filter(pk__in=data.pop("vms"))
        try:
            changed = services.ownership_assign_bulk(actor=request.user, vms_qs=queryset, **data)
        except DjangoValidationError as error:
            raise _drf(error) from error
        return Response({"changed": changed})


class ClaimSerializer(serializers.ModelSerializer):
    claimant = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    vm = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "vm",
            "claimant",
            "team",
            "state",
            "reason",
            "created_at",
            "decided_by",
            "decided_at",
            "comment",
        ]
        read_only_fields = ["state", "created_at", "decided_at", "comment"]


class TransferSerializer(serializers.ModelSerializer):
    from_user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    to_user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all())
    to_team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    vm = serializers.PrimaryKeyRelatedField(queryset=VirtualMachine.objects.all())

    class Meta:
        model = Transfer
        fields = [
            "id",
            "vm",
            "from_user",
            "to_user",
            "to_team",
            "state",
            "reason",
            "offered_at",
            "accepted_at",
            "decided_at",
            "decided_by",
            "comment",
        ]
        read_only_fields = ["state", "offered_at", "accepted_at", "decided_at", "comment"]


class _Decision(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, default="")


class _Workflow(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Claims or transfers the user may see; each step calls one service."""

    permission_classes = [IsAuthenticated]
    filterset_fields = ["state"]

    def get_queryset(self) -> Any:
        return restrict(super().get_queryset(), self.request.user)

    def _step(self, request: Request, service: Any, *, comment: bool = True) -> Response:
        obj = self.get_object()
        kwargs: dict[str, Any] = {"actor": request.user, self.basename_field: obj}
        if comment:
            decision = _Decision(data=request.data)
            decision.is_valid(raise_exception=True)
            kwargs["comment"] = decision.validated_data["comment"]
        try:
            result = service(**kwargs)
        except DjangoValidationError as error:
            raise _drf(error) from error
        return Response(self.get_serializer(result).data)


class ClaimCreateSerializer(serializers.Serializer):
    vm = serializers.IntegerField()
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    reason = serializers.CharField(max_length=500, required=False, default="")


class ClaimViewSet(_Workflow):
    """``POST claims/ {vm, team, reason}`` claims an unowned VM for one of your teams.

    Only claimable VMs (unowned, no pending claim) or VMs the claimant can see are
    considered; any other id answers 404, as an unknown one does.
    """

    queryset = Claim.objects.select_related("claimant", "team", "decided_by")
    serializer_class = ClaimSerializer
    basename_field = "claim"

    @extend_schema(request=ClaimCreateSerializer, responses={201: ClaimSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ClaimCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        vm = claimable_vm_get(user=request.user, pk=data["vm"])
        try:
            claim = services_workflows.claim_create(
                actor=request.user, vm=vm, team=data["team"], reason=data["reason"]
            )
        except DjangoValidationError as error:
            raise _drf(error) from error
        return Response(self.get_serializer(claim).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=_Decision)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: int) -> Response:
        return self._step(request, services_workflows.claim_approve)

    @extend_schema(request=_Decision)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: int) -> Response:
        return self._step(request, services_workflows.claim_reject)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: int) -> Response:
        return self._step(request, services_workflows.claim_cancel, comment=False)


class TransferViewSet(_Workflow):
    """``POST transfers/ {vm, to_user, to_team, reason}``: the owner offers a VM."""

    queryset = Transfer.objects.select_related("from_user", "to_user", "to_team", "decided_by")
    serializer_class = TransferSerializer
    basename_field = "transfer"

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        vm = get_object_or_404_for(request.user, VirtualMachine.objects.all(), pk=data["vm"].pk)
        try:
            transfer = services_workflows.transfer_offer(
                actor=request.user,
                vm=vm,
                to_user=data["to_user"],
                to_team=data["to_team"],
                reason=data.get("reason", ""),
            )
        except DjangoValidationError as error:
            raise _drf(error) from error
        return Response(self.get_serializer(transfer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: int) -> Response:
        return self._step(request, services_workflows.transfer_accept, comment=False)

    @extend_schema(request=_Decision)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: int) -> Response:
        return self._step(request, services_workflows.transfer_approve)

    @extend_schema(request=_Decision)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: int) -> Response:
        return self._step(request, services_workflows.transfer_reject)


class RuleSerializer(serializers.ModelSerializer):
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = OwnershipRule
        fields = [
            "id",
            "name",
            "priority",
            "enabled",
            "cluster",
            "pool",
            "tag_pattern",
            "name_regex",
            "team",
            "owner",
            "created_at",
        ]


class RuleViewSet(viewsets.ReadOnlyModelViewSet):
    """Ownership rules, in the order they are tried (readers of ownership only)."""

    queryset = OwnershipRule.objects.select_related("cluster", "team", "owner")
    serializer_class = RuleSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> Any:
        return restrict(super().get_queryset(), self.request.user)


class DashboardView(APIView):
    """The dashboard of ``?team=<slug>``, ``?mine=yes`` or the whole fleet, in full."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        scope = scope_from_params(request)
        dashboard = dashboard_build(viewer=request.user, scope=scope, limit=None)
        list_url = request.build_absolute_uri(reverse("ownership:vms"))
        return Response(dashboard_as_dict(dashboard, list_url=list_url))
