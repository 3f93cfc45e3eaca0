"""The exposure report over the API: the page's question (``cluster``, ``node``,
``since``, ``until``) and answer, one keyset page of guests at a time, with the summary.

The same form as the page validates the question, and the same selectors answer it, so
the API, the page and the CSV always agree; a node the caller may not ask about is 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from governance.core.api import ErrorSerializer
from inventory.api.pagination import KeysetPagination
from inventory.api.serializers import CopySerializer, ResidencySerializer
from inventory.forms.exposure import ExposureForm
from inventory.selectors.ledgers import (
    EXPOSURE_RISKY_CLASSES,
    exposure_details,
    exposure_guests,
    exposure_nodes,
    exposure_summary,
)


class ExposureCopySerializer(CopySerializer):
    removable_or_external = serializers.SerializerMethodField()

    class Meta(CopySerializer.Meta):
        fields = [*CopySerializer.Meta.fields, "storage_name", "node", "removable_or_external"]

    def get_removable_or_external(self, copy: Any) -> bool:
        return copy.storage_class in EXPOSURE_RISKY_CLASSES


class ExposedGuestSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="vm.pk")
    cluster = serializers.CharField(source="vm.cluster.name")
    vmid = serializers.IntegerField(source="vm.vmid")
    name = serializers.CharField(source="vm.name")
    classification = serializers.CharField(source="vm.classification")
    owner = serializers.CharField(source="vm.owner_name", allow_null=True)
    team = serializers.CharField(source="vm.team_name", allow_null=True)
    destroyed_at = serializers.DateTimeField(source="vm.gone_since", allow_null=True)
    stays = ResidencySerializer(many=True)
    copies = ExposureCopySerializer(many=True)


class ExposureSummarySerializer(serializers.Serializer):
    guests = serializers.IntegerField()
    copies = serializers.IntegerField()
    removable_or_external = serializers.IntegerField(source="risky_copies")


class ExposureReportSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    node = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    summary = ExposureSummarySerializer()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ExposedGuestSerializer(many=True)


_PARAMETERS = [
    OpenApiParameter("cluster", OpenApiTypes.STR, required=True, description="Cluster name"),
    OpenApiParameter("node", OpenApiTypes.STR, required=True, description="Node name"),
    OpenApiParameter(
        "since", OpenApiTypes.DATETIME, description="Window start (default: 30 days ago)"
    ),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Window end (default: now)"),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Guests per page (max 1000)"),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="The next or previous cursor"),
]


class ExposureView(generics.GenericAPIView):
    """Every guest the caller may see that ran on the node in [since, until], with its
    stays there and every copy made of it since ``since``; guests by id."""

    serializer_class = ExposureReportSerializer
    pagination_class = KeysetPagination
    filter_backends: list = []

    def keyset_order(self) -> list[str]:
        return ["id"]

    @extend_schema(
        parameters=_PARAMETERS,
        responses={
            200: ExposureReportSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad node or window"),
            404: OpenApiResponse(ErrorSerializer, description="No node the caller may ask about"),
        },
    )
    def get(self, request: Request) -> Response:
        form = ExposureForm(request.query_params, nodes=exposure_nodes(user=request.user))
        if form.unknown_node:
            raise NotFound("No such node.")
        if not form.asked:
            raise ValidationError({"node": ["This field is required."]})
        if not form.is_valid():
            raise ValidationError(
                {k: [e["message"] for e in v] for k, v in form.errors.get_json_data().items()}
            )
        node, since, until = form.question()
        guests = exposure_guests(user=request.user, node=node, since=since, until=until)
        rows = self.paginate_queryset(guests)
        # The page is a run of ids; reading it back by that range keeps it one subquery.
        page = guests.filter(pk__range=(rows[0].pk, rows[-1].pk)) if rows else guests.none()
        entries = exposure_details(page.order_by("id"), node=node, since=since, until=until)
        report = {
            "cluster": node.cluster.name,
            "node": node.name,
            "since": since,
            "until": until,
            "summary": exposure_summary(user=request.user, node=node, since=since, until=until),
            "next": self.paginator.next,
            "previous": self.paginator.previous,
            "results": entries,
        }
        return Response(self.get_serializer(report).data)
