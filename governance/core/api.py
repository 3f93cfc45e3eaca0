"""API conventions shared by every endpoint: pagination and the one error shape.

Every error the API answers, whatever raised it, has this body (``fields`` only on
validation errors, ``request_id`` matches the ``X-Request-ID`` response header)::

    {"error": {"code": "validation_error", "message": "Invalid input.",
               "fields": {"name": ["This field is required."]}, "request_id": "..."}}

``code`` is a stable machine-readable string (``not_authenticated``, ``permission_denied``,
``not_found``, ``method_not_allowed``, ``throttled``, ``validation_error``,
``parse_error``, ``server_error``, ...); ``message`` is for people. The schema
generator documents the shape on every operation
(``governance.core.schema.AutoSchema``), so clients can rely
on it without reading each endpoint.

DRF imports the pagination class named in settings while ``rest_framework.generics``
is itself being imported, so this module must not import generics, viewsets or
drf-spectacular's generator (the schema class lives in ``governance.core.schema``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from governance.core.middleware import current_request_id

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class CursorPagination(pagination.CursorPagination):
    """Stable pages over changing tables: a cursor, not an offset, so rows never repeat."""

    ordering = "-pk"
    page_size_query_param = "page_size"
    max_page_size = 500


def error_body(
    *, code: str, message: str, fields: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The one error body; ``fields`` maps field names to lists of messages."""
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    error["request_id"] = current_request_id()
    return {"error": error}


def _flatten(detail: Any) -> Any:
    """DRF ``ErrorDetail`` trees as plain strings, lists and dicts."""
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _validation_body(detail: Any) -> dict[str, dict[str, Any]]:
    if isinstance(detail, dict):
        fields = _flatten(detail)
        general = fields.pop("non_field_errors", None)
        message = " ".join(general) if general else "Invalid input."
        return error_body(code="validation_error", message=message, fields=fields)
    messages = _flatten(detail if isinstance(detail, list) else [detail])
    return error_body(code="validation_error", message=" ".join(map(str, messages)))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's ``EXCEPTION_HANDLER``: every exception from an API view becomes the error shape."""
    # Whatever the view wrote in a transaction it shares with this request is undone.
    set_rollback()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DataError):
        # The database refused a value the request carried (a NUL byte in text, a number
        # beyond its column): bad input, not a fault of ours.
        logger.info("Database refused a request value in %s: %s", context.get("view"), exc)
        exc = exceptions.ValidationError("A value in the request cannot be stored or searched.")

    if not isinstance(exc, exceptions.APIException):
        # The traceback goes to the log; the client gets a request id to quote.
        logger.exception("Unhandled error in API view %s", context.get("view"))
        return Response(
            error_body(code="server_error", message="Internal server error."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))

    if isinstance(exc, exceptions.ValidationError):
        body = _validation_body(exc.detail)
    else:
        code = exc.get_codes() if isinstance(exc.detail, str) else exc.default_code
        body = error_body(code=str(code), message=str(exc.detail))
    return Response(body, status=exc.status_code, headers=headers)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """URLs no view matched: the error shape under /api/, the HTML page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body(code="not_found", message="Not found."), status=404)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """Errors outside DRF views (middleware, URL resolution) keep the shape under /api/."""
    if request.path.startswith(API_PREFIX):
        body = error_body(code="server_error", message="Internal server error.")
        return JsonResponse(body, status=500)
    return defaults.server_error(request)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Validation errors only: a list of messages per field "
        "(a nested object of the same form for nested fields).",
    )
    request_id = serializers.CharField(help_text="Quote it when reporting a problem.")


class ErrorSerializer(serializers.Serializer):
    """The body of every API error response."""

    error = ErrorDetailSerializer()
