"""Request-scoped middleware of the shared kernel."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse

from governance.core.security_log import access_denied_log

_current_request_id: ContextVar[str] = ContextVar("steward_request_id", default="")
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_request_id() -> str:
    """The id of the request being served, or "" outside a request (tasks, commands)."""
    return _current_request_id.get()


class RequestIdMiddleware:
    """Give each request an id (or keep a sane ``X-Request-ID`` from a proxy) for logs, audit.

    It also logs every refused request (403) with that id: it wraps sessions,
    authentication, CSRF and every view, so it sees the final status whoever refused.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _current_request_id.set(request_id)
        try:
            response = self.get_response(request)
            if response.status_code == HTTPStatus.FORBIDDEN:
                access_denied_log(request, response)
        finally:
            _current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response
