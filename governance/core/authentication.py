"""API authentication classes.

Kept apart from ``governance.core.api``: DRF imports its authentication classes while
``rest_framework.views`` is being imported, so this module must not import it back.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework import authentication


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF session authentication that answers 401, not 403, to anonymous requests.

    DRF turns ``NotAuthenticated`` into 403 when the first authenticator offers no
    ``WWW-Authenticate`` challenge; naming the scheme keeps "who are you?" (401) apart
    from "you may not" (403), which clients and the permission tests rely on.
    """

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Session realm="steward"'
