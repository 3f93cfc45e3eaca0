"""Team quotas API: every team's limits and use (read), an admin's change (write).

One entry per team, addressed by the team's slug, whether or not a limit was ever set
(no quota: every limit null). Its limits are those for all clusters; ``clusters`` lists
the team's per-cluster quotas with their use on that cluster. A write naming ``cluster``
sets that cluster's limits instead. Holders of the model-wide view right (admins, security
officers, auditors) see every team; other users see the teams they belong to; any other
team answers 404. Only admins change limits (403 for readers), through ``quota_set``,
which audits the change.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request as ApiRequest
from rest_framework.response import Response

from governance.accounts.models import Team
from governance.approvals.models import LIMITS, TeamQuota
from governance.approvals.quota_usage import Size, Usage, quota_of, team_usage, teams_usage
from governance.approvals.services.quota import quota_set
from inventory.models import Cluster


class SizeSerializer(serializers.Serializer):
    vms = serializers.IntegerField()
    cores = serializers.IntegerField()
    memory_mib = serializers.IntegerField()
    disk_gib = serializers.IntegerField()

    @staticmethod
    def of(size: Size) -> dict[str, int]:
        return {
            "vms": size.amount("max_vms"),
            "cores": size.amount("max_cores"),
            "memory_mib": size.amount("max_memory_mib"),
            "disk_gib": size.amount("max_disk_gib"),
        }


def _limit_field() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, allow_null=True, required=False)


class TeamQuotaSerializer(serializers.Serializer):
    """A team's limits (null: unlimited) and its use: owned guests, open requests' reserve."""

    team = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    max_vms = _limit_field()
    max_cores = _limit_field()
    max_memory_mib = _limit_field()
    max_disk_gib = _limit_field()
    owned = SizeSerializer(read_only=True)
    reserved = SizeSerializer(read_only=True)
    total = SizeSerializer(read_only=True)


class ClusterQuotaSerializer(serializers.Serializer):
    """A team's limits on one cluster and its use there."""

    cluster = serializers.CharField()
    max_vms = serializers.IntegerField(allow_null=True)
    max_cores = serializers.IntegerField(allow_null=True)
    max_memory_mib = serializers.IntegerField(allow_null=True)
    max_disk_gib = serializers.IntegerField(allow_null=True)
    owned = SizeSerializer()
    reserved = SizeSerializer()
    total = SizeSerializer()


class TeamQuotaEntrySerializer(TeamQuotaSerializer):
    cluster = serializers.CharField(
        write_only=True,
        required=False,
        allow_null=True,
        help_text="Set the limits on this cluster (its name); omitted or null: all clusters.",
    )
    clusters = ClusterQuotaSerializer(many=True, read_only=True)


def _figures(quota: TeamQuota | None, usage: Usage) -> dict:
    limits = quota.limits() if quota is not None else dict.fromkeys(LIMITS)
    return {
        **limits,
        "owned": SizeSerializer.of(usage.owned),
        "reserved": SizeSerializer.of(usage.reserved),
        "total": SizeSerializer.of(usage.total),
    }


def _entry(team: Team, quota: TeamQuota | None, usage: Usage) -> dict:
    per_cluster = TeamQuota.objects.filter(team=team, cluster__isnull=False)
    return {
        "team": team.slug,
        "name": team.name,
        **_figures(quota, usage),
        "clusters": [
            {
                "cluster": row.cluster.name,
                **_figures(row, team_usage(team.pk, cluster_id=row.cluster_id)),
            }
            for row in per_cluster.select_related("cluster").order_by("cluster__name")
        ],
    }


@extend_schema_view(
    list=extend_schema(summary="Teams you may see, with their quota and use"),
    retrieve=extend_schema(summary="One team's quota and use"),
    update=extend_schema(summary="Set a team's quota (admins)"),
    partial_update=extend_schema(summary="Change some limits of a team's quota (admins)"),
)
class TeamQuotaViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = TeamQuotaEntrySerializer
    lookup_field = "slug"
    lookup_url_kwarg = "team"
    queryset = Team.objects.none()  # for the schema; get_queryset narrows per user

    def get_queryset(self):
        user = self.request.user
        teams = Team.objects.order_by("name")
        if user.has_perm("approvals.view_teamquota"):
            return teams
        return teams.filter(memberships__user=user)

    def list(self, request: ApiRequest) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        teams = list(page if page is not None else self.get_queryset())
        quotas = {q.team_id: q for q in TeamQuota.objects.filter(team__in=teams, cluster=None)}
        usage = teams_usage([team.pk for team in teams])
        data = [_entry(team, quotas.get(team.pk), usage[team.pk]) for team in teams]
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: ApiRequest, team: str) -> Response:
        found = self.get_object()
        return Response(_entry(found, quota_of(found.pk), team_usage(found.pk)))

    def update(self, request: ApiRequest, team: str, partial: bool = False) -> Response:
        found = self.get_object()
        if not request.user.has_perm("approvals.change_teamquota"):
            raise PermissionDenied("Only admins change team quotas.")
        body = TeamQuotaEntrySerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        limits = {name: body.validated_data.get(name) for name in LIMITS}
        if partial:
            limits = {name: value for name, value in limits.items() if name in body.validated_data}
        cluster = None
        if name := body.validated_data.get("cluster"):
            cluster = Cluster.objects.filter(name=name).first()
            if cluster is None:
                raise ValidationError({"cluster": [f"No cluster is named {name!r}."]})
        try:
            quota_set(actor=request.user, team=found, limits=limits, cluster=cluster)
        except DjangoValidationError as error:
            raise ValidationError(
                error.message_dict if hasattr(error, "error_dict") else error.messages
            ) from error
        return Response(_entry(found, quota_of(found.pk), team_usage(found.pk)))
