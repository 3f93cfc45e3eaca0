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
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("400")
        if "{" in self.path:
            codes.append("404")
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code))
        return responses


class SessionScheme(drf_authentication.SessionScheme):
    """Describes Steward's session authentication (a cookie) like DRF's own."""

    target_class = "governance.core.authentication.SessionAuthentication"
