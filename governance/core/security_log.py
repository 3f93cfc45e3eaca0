"""Denied access is logged (ASVS 16.3.2) to the ``steward.security`` logger.

Every 403 a request ends with, whether a DRF permission check, the page views'
``get_object_or_404_for`` or the CSRF check refused it, becomes one WARNING record whose
``extra`` fields (``event``, ``user_id``, ``username``, ``method``, ``path``, ``view``,
``status``, ``request_id``) a structured handler can read as they are. The query string
and the body are left out: they may carry secrets. A denial is not a state change, so
it never enters the audit hash chain, where anyone could otherwise grow the chain at will.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

security_logger = logging.getLogger("steward.security")


def access_denied_log(request: HttpRequest, response: HttpResponse) -> None:
    """Record ``request`` as refused with ``response``'s status, without query or body."""
    user = getattr(request, "user", None)
    authenticated = bool(user is not None and user.is_authenticated)
    match = getattr(request, "resolver_match", None)
    fields = {
        "event": "access_denied",
        "user_id": user.pk if authenticated else None,
        "username": user.get_username() if authenticated else "",
        "method": request.method,
        "path": request.path,
        "view": match.view_name if match is not None else "",
        "status": response.status_code,
        "request_id": getattr(request, "request_id", ""),
    }
    security_logger.warning(
        "access denied: user=%s (id %s) %s %s view=%s status=%s",
        fields["username"] or "anonymous",
        fields["user_id"],
        fields["method"],
        fields["path"],
        fields["view"],
        fields["status"],
        extra=fields,
    )
