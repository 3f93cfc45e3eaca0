"""Signal receivers of the shared kernel (connected in ``CoreConfig.ready``)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from governance.core.realtime import close_session_connections

logger = logging.getLogger(__name__)


@receiver(user_logged_out, dispatch_uid="core.close_live_connections_on_logout")
def close_live_connections_on_logout(sender: Any, request: Any, **kwargs: Any) -> None:
    """Sign-out (and session expiry, which signs out) closes that session's live sockets.

    Fired before Django flushes the session, so the key still names the ending session.
    A layer outage must not turn a sign-out into an error page, hence the broad except.
    """
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if not session_key:
        return
    try:
        close_session_connections(session_key)
    except Exception:
        logger.exception("could not close live connections of an ended session")
