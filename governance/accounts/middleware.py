"""Session expiry: an idle limit and an absolute limit, whichever comes first."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

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
