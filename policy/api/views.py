"""Policy API: policies with versions and the mandatory dry run, violations (filters of
the violation page), remediation runs with logs, quarantines and exemptions.

Reads come through ``restrict`` (invisible: 404); policy writes need
``policy.add_policy`` / ``change_policy`` (403) and a ``preview_token`` from
``POST dry-run/`` for exactly the document being saved, so an API client, like the
editor, sees what a change would do before making it. Policies are never deleted:
retire one by saving it with ``enabled: false``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.core.permissions import get_object_or_404_for, restrict
from policy import services
from policy.api.serializers import (
    DryRunRequestSerializer,
    DryRunResultSerializer,
    ExemptionSerializer,
    PolicySerializer,
    PolicyVersionSerializer,
    PolicyWriteSerializer,
    QuarantineSerializer,
    RemediationSerializer,
    ViolationDetailSerializer,
    ViolationSerializer,
    document_from,
    dry_run_data,
)
from policy.forms import ViolationFilterForm
from policy.lists import exemption_list, quarantine_list, remediation_list, violation_list
from policy.models import Policy
from policy.preview import preview_matches, preview_token


def _drf(error: DjangoValidationError) -> ValidationError:
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)


class PolicyViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Policies (security officers, admins write; auditors read)."""

    queryset = Policy.objects.select_related("created_by", "updated_by")
    serializer_class = PolicySerializer
    filterset_fields = ["kind", "mode", "enabled"]

    def get_queryset(self) -> QuerySet[Policy]:
        return restrict(super().get_queryset(), self.request.user)

    def get_object(self) -> Policy:
        action_name = "view" if self.request.method in ("GET", "HEAD", "OPTIONS") else "change"
        return get_object_or_404_for(
            self.request.user, self.get_queryset(), action_name, pk=self.kwargs["pk"]
        )

    def _save(self, request: Request, *, policy: Policy | None, partial: bool) -> Response:
        data: Any = request.data
        if partial and policy is not None:
            # A PATCH changes the named keys of the stored document, nothing else.
            data = {**PolicySerializer(policy).data, **data}
        serializer = PolicyWriteSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        document = serializer.document()
        if not preview_matches(
            serializer.validated_data["preview_token"],
            document=document,
            policy_id=policy.pk if policy else None,
            base_version=policy.version if policy else 0,
        ):
            raise ValidationError(
                {
                    "preview_token": [
                        "No recent dry run of exactly this document on the current version: "
                        "POST it to /api/policy/dry-run/ and send the token it returns."
                    ]
                }
            )
        try:
            saved = services.policy_save(
                actor=request.user,
                document=document,
                policy=policy,
                comment=serializer.validated_data["comment"],
            )
        except DjangoValidationError as error:
            raise _drf(error) from error
        code = status.HTTP_201_CREATED if policy is None else status.HTTP_200_OK
        return Response(PolicySerializer(saved).data, status=code)

    @extend_schema(request=PolicyWriteSerializer, responses={201: PolicySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.has_perm("policy.add_policy"):
            raise PermissionDenied
        return self._save(request, policy=None, partial=False)

    @extend_schema(request=PolicyWriteSerializer, responses=PolicySerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._save(request, policy=self.get_object(), partial=kwargs.get("partial", False))

    @extend_schema(request=PolicyVersionSerializer, responses=PolicyVersionSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        serializer_class=PolicyVersionSerializer,
        pagination_class=None,
    )
    def versions(self, request: Request, pk: int) -> Response:
        """Every saved version of the policy, newest first (not paginated: a policy has few)."""
        policy = self.get_object()
        rows = policy.versions.select_related("changed_by").order_by("-version")
        return Response(PolicyVersionSerializer(rows, many=True).data)


class DryRunView(APIView):
    """``POST {document, policy?}``: what saving it would do, changing nothing."""

    @extend_schema(request=DryRunRequestSerializer, responses=DryRunResultSerializer)
    def post(self, request: Request) -> Response:
        serializer = DryRunRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = None
        if (policy_id := serializer.validated_data.get("policy")) is not None:
            policy = get_object_or_404_for(
                request.user, Policy.objects.all(), "change", pk=policy_id
            )
        elif not request.user.has_perm("policy.add_policy"):
            raise PermissionDenied
        document = document_from(serializer.validated_data["document"])
        try:
            result = services.policy_dry_run(document=document, policy=policy)
        except DjangoValidationError as error:
            raise _drf(error) from error
        token = preview_token(
            document=document,
            policy_id=policy.pk if policy else None,
            base_version=policy.version if policy else 0,
        )
        return Response({**dry_run_data(result), "preview_token": token})


_VIOLATION_FILTERS = [
    OpenApiParameter("state", OpenApiTypes.STR, enum=["open", "resolved", "all"]),
    OpenApiParameter("policy", OpenApiTypes.STR, description="Policy name"),
    OpenApiParameter("remediation", OpenApiTypes.STR, description="Remediation state"),
    OpenApiParameter("cluster", OpenApiTypes.STR, description="Cluster name"),
    OpenApiParameter("team", OpenApiTypes.STR, description="Team slug (current ownership)"),
    OpenApiParameter("q", OpenApiTypes.STR, description="VM name part or vmid"),
]


@extend_schema_view(list=extend_schema(parameters=_VIOLATION_FILTERS))
class ViolationViewSet(viewsets.ReadOnlyModelViewSet):
    """Violations of the VMs the user may see; open ones by default."""

    serializer_class = ViolationSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet:
        if self.action != "list":
            return violation_list(user=self.request.user, filters={"state": "all"})
        form = ViolationFilterForm(self.request.query_params)
        if not form.is_valid():
            # The API's error shape: a list of messages per field.
            raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
        return violation_list(user=self.request.user, filters=form.filters())

    def get_serializer_class(self) -> type:
        return ViolationDetailSerializer if self.action == "retrieve" else ViolationSerializer


class RemediationViewSet(viewsets.ReadOnlyModelViewSet):
    """Remediation runs with their logs."""

    serializer_class = RemediationSerializer
    filterset_fields = ["state", "action", "dry_run", "vm"]

    def get_queryset(self) -> QuerySet:
        return remediation_list(user=self.request.user)


class QuarantineViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = QuarantineSerializer
    filterset_fields = ["cause", "applied_state", "vm"]

    def get_queryset(self) -> QuerySet:
        return quarantine_list(user=self.request.user)


class ExemptionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ExemptionSerializer
    filterset_fields = ["policy", "vm"]

    def get_queryset(self) -> QuerySet:
        return exemption_list(user=self.request.user)
