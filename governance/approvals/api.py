"""Approvals API: requests (list, read, submit, approve, reject, cancel), the inbox and
each request's timeline.

Cancel is the page's one action: a pending request is withdrawn by its requester
(``request_cancel``); an executing or failed one has its execution cancelled by an admin,
who must say why (``execution_cancel``, which checks the role and audits the reason).

Requests come through ``request_visible`` (invisible: 404). Submitting validates the
parameters with the same per-kind form the pages use, then calls ``request_submit``;
every decision is the service's, whose refusals (``ValidationError``, ``PermissionDenied``)
become the API's one error shape (400, 403).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request as ApiRequest
from rest_framework.response import Response

from governance.approvals.forms import FORMS
from governance.approvals.lists import (
    clusters_open_for_requests,
    request_inbox,
    request_timeline,
    request_visible,
)
from governance.approvals.models import (
    Execution,
    Request,
    RequestEvent,
    RequestKind,
    RequestState,
    RequestStep,
)
from governance.approvals.models.chains import step_needs
from governance.approvals.parameters_display import describe_parameters
from governance.approvals.services.decisions import request_approve, request_reject
from governance.approvals.services.executions import execution_cancel
from governance.approvals.services.requests import request_cancel, request_submit
from governance.core.api import ErrorSerializer
from governance.core.permissions import get_object_or_404_for
from inventory.models import Cluster, VirtualMachine


class StepSerializer(serializers.ModelSerializer):
    needs = serializers.SerializerMethodField(help_text="e.g. '2 of the eligible approvers'")

    class Meta:
        model = RequestStep
        fields = [
            "position",
            "name",
            "approver_rule",
            "role",
            "mode",
            "required",
            "needs",
            "satisfied_at",
        ]

    def get_needs(self, step: RequestStep) -> str:
        return step_needs(step.mode, step.required)


class RequestSerializer(serializers.ModelSerializer):
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    steps = StepSerializer(many=True, read_only=True)

    class Meta:
        model = Request
        fields = [
            "id",
            "kind",
            "state",
            "requester",
            "vm",
            "cluster",
            "team",
            "parameters",
            "justification",
            "revision",
            "auto_approved",
            "created_at",
            "decided_at",
            "expires_at",
            "finished_at",
            "steps",
        ]


class ParameterLineSerializer(serializers.Serializer):
    label = serializers.CharField()
    text = serializers.CharField()
    url = serializers.CharField(allow_null=True, help_text="Only when you may open the object.")


class RequestDetailSerializer(RequestSerializer):
    """One request: ``parameters`` stays machine-readable; ``parameters_display`` is what
    the request page shows, resolved for the caller (never naming what they cannot see)."""

    parameters_display = serializers.SerializerMethodField()

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "parameters_display"]

    @extend_schema_field(ParameterLineSerializer(many=True))
    def get_parameters_display(self, found: Request) -> list[dict[str, Any]]:
        lines = describe_parameters(found, viewer=self.context["request"].user)
        return [line._asdict() for line in lines]


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = RequestEvent
        fields = ["at", "kind", "actor", "message", "data"]


class SubmitSerializer(serializers.Serializer):
    """``parameters`` holds the kind's form fields (ids for nodes, storages, teams)."""

    kind = serializers.ChoiceField(choices=RequestKind.choices)
    vm = serializers.IntegerField(required=False, allow_null=True)
    cluster = serializers.CharField(required=False, allow_blank=True)
    parameters = serializers.DictField()
    justification = serializers.CharField()
    idempotency_key = serializers.UUIDField()


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    revision = serializers.IntegerField(min_value=1)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Why the execution is cancelled: required (and admins only) once the "
        "request is executing or failed; ignored for a pending request.",
    )


def _refusal(error: DjangoValidationError | DjangoPermissionDenied) -> Exception:
    if isinstance(error, DjangoPermissionDenied):
        return PermissionDenied(str(error) or None)
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)


@extend_schema_view(
    list=extend_schema(summary="Requests you may see, newest first"),
    retrieve=extend_schema(summary="One request with its steps"),
)
class RequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RequestSerializer
    filterset_fields = ["kind", "state"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return request_visible(user=self.request.user).prefetch_related("steps")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        # Lists keep to stored values: resolving every row's parameters costs queries per row.
        return RequestDetailSerializer if self.action == "retrieve" else RequestSerializer

    def get_object(self) -> Request:
        try:
            return self.get_queryset().get(pk=int(self.kwargs["pk"]))
        except (Request.DoesNotExist, ValueError) as error:
            raise Http404("No such request.") from error

    @extend_schema(
        summary="Requests waiting for your decision, oldest first",
        responses=RequestSerializer(many=True),
    )
    @action(detail=False, pagination_class=None)
    def inbox(self, request: ApiRequest) -> Response:
        rows = request_inbox(user=request.user).prefetch_related("steps")[:500]
        return Response(RequestSerializer(rows, many=True).data)

    @extend_schema(summary="The request's timeline", responses=EventSerializer(many=True))
    @action(detail=True, pagination_class=None)
    def timeline(self, request: ApiRequest, pk: str) -> Response:
        events = request_timeline(request=self.get_object())
        return Response(EventSerializer(events, many=True).data)

    @extend_schema(
        summary="Submit a request",
        request=SubmitSerializer,
        # 404: the named VM or cluster is not one the requester may see.
        responses={201: RequestSerializer, 404: ErrorSerializer},
    )
    def create(self, request: ApiRequest) -> Response:
        body = SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        form_class = FORMS[data["kind"]]
        vm, cluster = self._target(form_class, data)
        form = form_class(
            {
                **data["parameters"],
                "justification": data["justification"],
                "idempotency_key": data["idempotency_key"],
            },
            user=request.user,
            vm=vm,
            cluster=cluster,
        )
        if not form.is_valid():
            raise ValidationError(
                {field: list(messages) for field, messages in form.errors.items()}
            )
        try:
            created = request_submit(
                requester=request.user,
                kind=data["kind"],
                vm=vm,
                cluster=form.cluster,
                parameters=form.parameters(),
                justification=form.cleaned_data["justification"],
                idempotency_key=str(data["idempotency_key"]),
            )
        except (DjangoValidationError, DjangoPermissionDenied) as error:
            raise _refusal(error) from error
        return Response(RequestSerializer(created).data, status=status.HTTP_201_CREATED)

    def _target(self, form_class: Any, data: dict) -> tuple[VirtualMachine | None, Cluster | None]:
        user = self.request.user
        if form_class.needs_vm:
            if not data.get("vm"):
                raise ValidationError({"vm": ["This kind of request needs a VM."]})
            vm = get_object_or_404_for(
                user, VirtualMachine.objects.select_related("cluster", "node"), pk=data["vm"]
            )
            return vm, vm.cluster
        if not data.get("cluster"):
            raise ValidationError({"cluster": ["Name the cluster the new VM goes to."]})
        cluster = clusters_open_for_requests().filter(name=data["cluster"]).first()
        if cluster is None:
            raise Http404("No such cluster.")
        return None, cluster

    def _decide(self, request: ApiRequest, act: Any) -> Response:
        found = self.get_object()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            act(actor=request.user, request=found, **body.validated_data)
        except (DjangoValidationError, DjangoPermissionDenied) as error:
            raise _refusal(error) from error
        found.refresh_from_db()
        return Response(RequestSerializer(found).data)

    @extend_schema(summary="Approve the request's current step", request=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: ApiRequest, pk: str) -> Response:
        return self._decide(request, request_approve)

    @extend_schema(summary="Reject the request", request=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: ApiRequest, pk: str) -> Response:
        return self._decide(request, request_reject)

    @extend_schema(
        summary="Cancel your pending request, or (admins) the request's execution",
        request=CancelSerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: ApiRequest, pk: str) -> Response:
        found = self.get_object()
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            if found.state in (RequestState.FAILED, RequestState.EXECUTING):
                execution = Execution.objects.filter(request=found).first()
                if execution is None:
                    raise Http404("This request has no execution.")
                execution_cancel(
                    actor=request.user, execution=execution, reason=body.validated_data["reason"]
                )
            else:
                request_cancel(actor=request.user, request=found)
        except (DjangoValidationError, DjangoPermissionDenied) as error:
            raise _refusal(error) from error
        found.refresh_from_db()
        return Response(RequestSerializer(found).data)
