"""The live consumer under bursts: numbered frames, at most one per interval, superseded
events merged, a bounded buffer that asks for a resync instead of growing."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from governance.core.consumers import EventBuffer, LiveConsumer
from governance.core.realtime import close_message, coalesce_key, event_message, user_group

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("memory_channel_layer"),
]

INTERVAL = 0.4


class QuickConsumer(LiveConsumer):
    flush_interval = INTERVAL
    buffer_limit = 5


async def _publish(user, event: str, payload: dict) -> None:
    group = user_group(user.pk)
    await get_channel_layer().group_send(group, event_message(group, event, payload))


async def _connected(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(QuickConsumer.as_asgi(), "/ws/live/")
    communicator.scope["user"] = user
    assert (await communicator.connect(timeout=5))[0]
    return communicator


@async_to_sync
async def _burst(user, events: list[tuple[str, dict]]) -> list[tuple[float, dict]]:
    """Publish one event, then ``events`` at once; every frame received with its delay."""
    communicator = await _connected(user)
    started = time.monotonic()
    await _publish(user, "activity", {"text": "first"})
    for event, payload in events:
        await _publish(user, event, payload)
    frames = []
    while not await communicator.receive_nothing(timeout=INTERVAL * 2):
        frames.append((time.monotonic() - started, await communicator.receive_json_from()))
    await communicator.disconnect()
    return frames


def _names(frame: dict) -> list[tuple[str, object]]:
    return [(e["event"], e["payload"].get("n")) for e in frame["events"]]


def test_first_event_goes_at_once_and_the_burst_follows_in_one_frame(make_user):
    burst = [("activity", {"n": n}) for n in range(3)]
    frames = _burst(make_user("end_user"), burst)
    assert [frame["seq"] for _, frame in frames] == [1, 2]
    (first_at, first), (second_at, second) = frames
    assert first["events"] == [{"event": "activity", "payload": {"text": "first"}}]
    assert first_at < INTERVAL
    # Unkeyed events are never merged; they keep their order.
    assert _names(second) == [("activity", 0), ("activity", 1), ("activity", 2)]
    assert second_at >= INTERVAL * 0.9


def test_events_about_the_same_target_are_merged_into_the_newest(make_user):
    burst = [
        ("approvals.execution", {"request": 1, "n": 1}),
        ("approvals.execution", {"request": 2, "n": 2}),
        ("notification", {"n": 3}),
        ("approvals.execution", {"request": 1, "n": 4}),
        ("approvals.request", {"request": 1, "n": 5}),
        ("activity", {"key": "k", "n": 6}),
        ("activity", {"key": "k", "n": 7}),
    ]
    _, (_, second) = _burst(make_user("end_user"), burst)
    assert _names(second) == [
        ("approvals.execution", 2),
        ("notification", 3),
        ("approvals.execution", 4),  # replaced request 1's first event, in the newer place
        ("approvals.request", 5),  # same request, other event name: not merged
        ("activity", 7),
    ]


def test_overflow_drops_the_buffer_and_asks_for_a_resync(make_user):
    burst = [("activity", {"n": n}) for n in range(QuickConsumer.buffer_limit + 1)]
    burst.append(("activity", {"n": 99}))
    _, (_, second) = _burst(make_user("end_user"), burst)
    assert second["seq"] == 2
    assert second["resync"] is True
    # What came after the overflow is still delivered.
    assert _names(second) == [("activity", 99)]


def test_a_quiet_interval_resets_the_pace(make_user):
    @async_to_sync
    async def run() -> list[dict]:
        communicator = await _connected(user)
        frames = []
        for n in range(2):
            await _publish(user, "activity", {"n": n})
            frames.append(await communicator.receive_json_from(timeout=INTERVAL / 2))
            await asyncio.sleep(INTERVAL * 1.5)
        await communicator.disconnect()
        return frames

    user = make_user("end_user")
    frames = run()
    assert [(frame["seq"], _names(frame)) for frame in frames] == [
        (1, [("activity", 0)]),
        (2, [("activity", 1)]),
    ]


def test_each_connection_counts_its_own_frames(make_user):
    @async_to_sync
    async def run() -> tuple[dict, dict]:
        early = await _connected(user)
        await _publish(user, "activity", {"n": 1})
        await early.receive_json_from(timeout=2)
        late = await _connected(user)
        await asyncio.sleep(INTERVAL)
        await _publish(user, "activity", {"n": 2})
        frames = await early.receive_json_from(timeout=2), await late.receive_json_from(timeout=2)
        await early.disconnect()
        await late.disconnect()
        return frames

    user = make_user("end_user")
    early, late = run()
    assert (early["seq"], late["seq"]) == (2, 1)


@pytest.mark.parametrize(
    ("event", "payload", "key"),
    [
        ("inventory.synced", {"cluster_id": 3, "changed": True, "run": 9}, "3.True"),
        (
            "policy.changed",
            {"cluster": 1, "vm": None, "violation": 2, "remediation": None},
            "1.None.2.None",
        ),
        ("approvals.request", {"request": 5, "state": "approved"}, "5"),
        ("approvals.request", {"state": "approved"}, None),  # target missing: never merged
        ("notification", {"kind": "x", "key": "bell"}, "bell"),
        ("activity", {"text": "hi"}, None),
        ("activity", ["not", "a", "dict"], None),
    ],
)
def test_coalesce_key(event, payload, key):
    assert coalesce_key(event, payload) == key


def test_sync_runs_that_changed_something_are_not_hidden_by_one_that_did_not():
    buffer = EventBuffer(limit=10)
    buffer.add("inventory.synced", {"cluster_id": 1, "changed": True, "run": 1})
    buffer.add("inventory.synced", {"cluster_id": 1, "changed": False, "run": 2})
    buffer.add("inventory.synced", {"cluster_id": 1, "changed": True, "run": 3})
    events, overflowed = buffer.take()
    assert [e["payload"]["run"] for e in events] == [2, 3]
    assert not overflowed
    assert not buffer


def test_a_closed_session_sends_no_pending_frame(make_user):
    @async_to_sync
    async def run() -> tuple[dict, dict, bool]:
        communicator = await _connected(user)
        await _publish(user, "activity", {"n": 1})
        first = await communicator.receive_json_from(timeout=2)
        await _publish(user, "activity", {"n": 2})  # waits for the next interval
        group = user_group(user.pk)
        await get_channel_layer().group_send(group, close_message(group))
        closed = await communicator.receive_output(timeout=2)
        nothing_after = await communicator.receive_nothing(timeout=INTERVAL * 2)
        return first, closed, nothing_after

    user = make_user("end_user")
    first, closed, nothing_after = run()
    assert first["seq"] == 1
    assert closed == {"type": "websocket.close", "code": 4401}
    assert nothing_after
