"""OpenAPI schema generation: every operation documents the API's one error shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular import authentication as drf_authentication
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from governance.core.api import ErrorSerializer


class AutoSchema(SpectacularAutoSchema):
    """Documents the error responses every operation can give, with the one error shape."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = ["401", "403", "429"]
        if self.method in ("POST", "PUT", "PATCH") or self._has_query_parameters():
            codes.append("400")
        # A detail view's object may be invisible; a list's cursor may be stale or forged
        # (DRF's cursor pagination answers 404 "Invalid cursor").
        if "{" in self.path or (self._is_list_view() and self._get_paginator() is not None):
            codes.append("404")
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code))
        return responses

    def _has_query_parameters(self) -> bool:
        """Whether the operation reads filters from the query string, which it may refuse
        (400); the paginator's own parameters answer 404 instead (see above)."""
        if self.method != "GET":
            return False
        declared = [
            parameter
            for parameter in self.get_override_parameters()
            if getattr(parameter, "location", "query") == "query"
        ]
        return bool(declared or self._get_filter_parameters())


class SessionScheme(drf_authentication.SessionScheme):
    """Describes Steward's session authentication (a cookie) like DRF's own."""

    target_class = "governance.core.authentication.SessionAuthentication"
