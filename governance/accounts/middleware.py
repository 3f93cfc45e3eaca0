"""Session expiry (an idle and an absolute limit) and the second-factor gate."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from governance.accounts import mfa
from governance.core.api import error_body

_STARTED = "steward_session_started"
_SEEN = "steward_session_seen"
# The idle clock is refreshed at most this often, so most requests do not rewrite
# the session row; idle expiry is therefore exact to within this many seconds.
_SEEN_RESOLUTION = 60


def session_started(request: HttpRequest) -> None:
    """Start both clocks at sign-in (called from the ``user_logged_in`` receiver)."""
    now = time.time()
    request.session[_STARTED] = now
    request.session[_SEEN] = now


class SessionExpiryMiddleware:
    """Log a user out once idle or absolute session time (settings, in seconds) runs out.

    The idle clock restarts on every request; the absolute clock only at sign-in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.setdefault(_STARTED, now)
            seen = request.session.get(_SEEN, now)
            if (
                now - seen > settings.SESSION_IDLE_TIMEOUT
                or now - started > settings.SESSION_ABSOLUTE_TIMEOUT
            ):
                logout(request)
                messages.info(request, "Your session expired. Please sign in again.")
            elif now - seen >= _SEEN_RESOLUTION or _SEEN not in request.session:
                request.session[_SEEN] = now
        return self.get_response(request)


@cache
def _exempt_prefixes() -> tuple[str, ...]:
    """Resolved once: the gate runs on every signed-in request."""
    return (
        settings.STATIC_URL if settings.STATIC_URL.startswith("/") else f"/{settings.STATIC_URL}",
        reverse("accounts:login"),
        reverse("accounts:logout"),
        reverse("accounts:mfa-verify"),
        reverse("accounts:mfa-enrol"),
        "/healthz",
    )


class MfaGateMiddleware:
    """Hold a signed-in session at the second factor until it is given or enrolled.

    Only sessions are gated: an API client that authenticates each request itself (a
    token) is checked by its own authenticator, after middleware, and is exempt by design.
    Sign-in, sign-out, the factor pages and static files stay reachable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not request.path_info.startswith(_exempt_prefixes()):
            state = mfa.session_mfa_state(request)
            if state in (mfa.VERIFY, mfa.ENROL):
                return _held(request, state)
        return self.get_response(request)


def _held(request: HttpRequest, state: str) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        message = (
            "Enrol a second factor first." if state == mfa.ENROL else "Give your second factor."
        )
        return JsonResponse(error_body(code="mfa_required", message=message), status=403)
    target = reverse("accounts:mfa-enrol" if state == mfa.ENROL else "accounts:mfa-verify")
    return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
