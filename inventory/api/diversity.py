"""``GET /api/inventory/os-diversity/``: the OS diversity report as JSON."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.roles import roles_of
from inventory.selectors.diversity import os_diversity

_GROUP_FIELDS = {
    "key": serializers.CharField(help_text="the VM list's os filter value"),
    "family": serializers.CharField(),
    "version": serializers.CharField(),
    "source": serializers.ChoiceField(choices=["agent", "config"]),
    "release": serializers.CharField(),
    "end_of_life": serializers.DateField(allow_null=True),
    "eol": serializers.BooleanField(),
    "count": serializers.IntegerField(),
    "teams": serializers.DictField(child=serializers.IntegerField()),
}


class OsDiversityView(APIView):
    """Live guests the caller may see, counted by OS and team; end-of-life groups first."""

    @extend_schema(
        responses=inline_serializer(
            "OsDiversity",
            {
                "today": serializers.DateField(),
                "total": serializers.IntegerField(),
                "eol_total": serializers.IntegerField(),
                "teams": serializers.ListField(child=serializers.CharField()),
                "groups": inline_serializer("OsDiversityGroup", _GROUP_FIELDS, many=True),
            },
        )
    )
    def get(self, request: Request) -> Response:
        if not roles_of(request.user):
            raise PermissionDenied("The OS diversity report needs a Steward role.")
        report = os_diversity(user=request.user)
        return Response(
            {
                "today": report.today,
                "total": report.total,
                "eol_total": report.eol_total,
                "teams": report.teams,
                "groups": [asdict(group) for group in report.groups],
            }
        )
