"""Publishing live events to browsers, from sync code (views, services, Celery tasks).

Every connected browser tab runs one ``LiveConsumer`` that is a member of its user's
group (``user.<id>``) and of one group per role it holds (``role.<role>``); other named
groups (a team, a request) may be added later. An event is a name plus a JSON-safe
payload; ``static/js/live.js`` dispatches each as a ``steward:<event>`` DOM event.

The browser-visible contract (one websocket per tab, ``/ws/live/``):

- Every frame is ``{"seq": n, "events": [{"event": ..., "payload": {...}}, ...]}``;
  ``seq`` starts at 1 on each connection and grows by one per frame.
- The consumer coalesces: at most one frame per ``LiveConsumer.flush_interval`` (1 s);
  the first event after a quiet interval goes out at once. Events with the same name and
  the same key supersede each other: only the newest is sent, in the place of the
  newest. The key is ``payload["key"]`` when the publisher gave one, else the target
  fields :data:`KEY_FIELDS` names for the event (``inventory.synced``: the cluster;
  ``approvals.*``: the request). Events with neither are never merged.
- A frame with ``"resync": true`` says events were dropped (a burst overflowed the
  connection's buffer): the page must re-render its live regions from the server.
  live.js also dispatches ``steward:resync`` when ``seq`` skips a number and when the
  socket reconnects, because events sent while it was down are lost.
- Close code 4401: not signed in, or the login session ended; do not reconnect.

Delivery is therefore best effort but never silently lossy: a page renders the current
state on load, treats events as hints and refetches on ``steward:resync``. When an
event announces a database change, publish it from ``transaction.on_commit`` so a
browser never learns of a change that was rolled back. Publishers that fan out to big
(role) groups send one keyed event per cluster or target, never one per VM.
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

# The payload fields that name what an event is about: a newer event about the same
# target tells a page everything an older one did (pages refetch the target's region).
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    # "changed" too: a run that wrote nothing must not hide an earlier one that did.
    "inventory.synced": ("cluster_id", "changed"),
    "policy.changed": ("cluster", "vm", "violation", "remediation"),
    "approvals.execution": ("request",),
    "approvals.request": ("request",),
}


def coalesce_key(event: str, payload: Any) -> str | None:
    """What ``event`` is about, for merging: an explicit ``key``, else its target fields."""
    if not isinstance(payload, dict):
        return None
    if payload.get("key") is not None:
        return str(payload["key"])
    fields = KEY_FIELDS.get(event)
    if not fields or any(field not in payload for field in fields):
        return None
    return ".".join(str(payload[field]) for field in fields)


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
    name = session_group(session_key)
    async_to_sync(layer.group_send)(name, close_message(name))


def publish_to_user(
    user_id: int, event: str, payload: dict[str, Any], *, key: str | None = None
) -> None:
    """Send ``event`` to every open tab of one user."""
    publish_to_group(user_group(user_id), event, payload, key=key)


def publish_to_group(
    name: str, event: str, payload: dict[str, Any], *, key: str | None = None
) -> None:
    """Send ``event`` to every connection in group ``name``.

    ``key`` names what the event is about (``"cluster.3"``, ``"request.12"``): a later
    event of the same name and key supersedes an unsent earlier one, so give one only
    when the newest event alone tells the page everything it needs.

    Raises ``ValueError`` for a malformed group or event name, so a typo fails loudly in
    tests instead of silently reaching nobody. Must not be called from a running event
    loop (there, ``await layer.group_send(name, event_message(name, event, payload))``).
    """
    if not _GROUP_NAME.match(name):
        raise ValueError(f"invalid live group name {name!r}")
    if not _EVENT_NAME.match(event):
        raise ValueError(f"invalid live event name {event!r}")
    layer = get_channel_layer()
    if layer is None:  # CHANNEL_LAYERS unset: nothing can be listening.
        return
    if key is not None:
        payload = {**payload, "key": str(key)}
    async_to_sync(layer.group_send)(name, event_message(name, event, payload))


def event_message(group: str, event: str, payload: Any) -> dict[str, Any]:
    """The channel-layer message of one event for ``group``.

    It names its group because a web process joins each group once, with one channel for
    all of them (``governance.core.live_fanout``), and hands the event to the members.
    """
    return {"type": MESSAGE_TYPE, "group": group, "event": event, "payload": payload}


def close_message(group: str) -> dict[str, Any]:
    """The channel-layer message that closes every connection of session ``group``."""
    return {"type": CLOSE_TYPE, "group": group}
