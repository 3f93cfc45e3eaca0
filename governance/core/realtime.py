"""Publishing live events to browsers, from sync code (views, services, Celery tasks).

Every connected browser tab runs one ``LiveConsumer`` that is a member of its user's
group (``user.<id>``) and of one group per role it holds (``role.<role>``); other named
groups (a team, a request) may be added later. An event is a name plus a JSON-safe
payload; the consumer forwards it as ``{"event": ..., "payload": ...}`` and
``static/js/live.js`` dispatches it as a ``steward:<event>`` DOM event.

Delivery is best effort and at most once: a tab that is not connected misses the event.
Pages must therefore render the current state on load and treat events as hints. When
an event announces a database change, publish it from ``transaction.on_commit`` so a
browser never learns of a change that was rolled back.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

# The channel layer forwards these to LiveConsumer.live_event and .live_close.
MESSAGE_TYPE = "live.event"
CLOSE_TYPE = "live.close"
# Event names become DOM event names (``steward:<event>``): keep them tame.
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
# Channels' own rule for group names, minus the length the prefixes take.
_GROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,90}$")


def user_group(user_id: int) -> str:
    """The group every live connection of one user joins."""
    return f"user.{int(user_id)}"


def role_group(role: str) -> str:
    """The group every live connection of a holder of ``role`` joins."""
    return f"role.{role}"


def session_group(session_key: str) -> str:
    """The group of the live connections opened under one login session.

    Hashed, because group names are stored by the channel layer (Redis, SQLite) and a
    session key is a credential.
    """
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def close_session_connections(session_key: str) -> None:
    """Close every live connection opened under ``session_key`` (on sign-out or expiry).

    Without this a tab would go on receiving events after its session ended, because a
    websocket authenticates once, when it connects.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(session_group(session_key), {"type": CLOSE_TYPE})


def publish_to_user(user_id: int, event: str, payload: dict[str, Any]) -> None:
    """Send ``event`` to every open tab of one user."""
    publish_to_group(user_group(user_id), event, payload)


def publish_to_group(name: str, event: str, payload: dict[str, Any]) -> None:
    """Send ``event`` to every connection in group ``name``.

    Raises ``ValueError`` for a malformed group or event name, so a typo fails loudly in
    tests instead of silently reaching nobody. Must not be called from a running event
    loop (use the channel layer's ``group_send`` directly there).
    """
    if not _GROUP_NAME.match(name):
        raise ValueError(f"invalid live group name {name!r}")
    if not _EVENT_NAME.match(event):
        raise ValueError(f"invalid live event name {event!r}")
    layer = get_channel_layer()
    if layer is None:  # CHANNEL_LAYERS unset: nothing can be listening.
        return
    async_to_sync(layer.group_send)(
        name, {"type": MESSAGE_TYPE, "event": event, "payload": payload}
    )
