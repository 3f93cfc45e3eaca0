"""The live websocket: only signed-in users connect, and events reach exactly their groups."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from governance.asgi import application
from governance.core.consumers import CLOSE_UNAUTHENTICATED, LiveConsumer
from governance.core.realtime import publish_to_group, publish_to_user, role_group
from governance.core.tasks import ping_user

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("memory_channel_layer"),
]

ORIGIN = (b"origin", b"http://localhost")


def _communicator(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    communicator.scope["user"] = user
    return communicator


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return _session_cookie_of(client)


def _session_cookie_of(client: Client) -> bytes:
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@async_to_sync
async def _connect_through_stack(headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected, code


def test_anonymous_connection_is_closed_with_4401():
    connected, code = _connect_through_stack([ORIGIN])
    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


def test_signed_in_session_connects_through_the_asgi_stack(make_user):
    user = make_user("end_user")
    connected, _ = _connect_through_stack([ORIGIN, (b"cookie", _session_cookie(user))])
    assert connected


def test_foreign_origin_is_refused_even_with_a_session(make_user):
    user = make_user("end_user")
    foreign = (b"origin", b"http://evil.example")
    connected, _ = _connect_through_stack([foreign, (b"cookie", _session_cookie(user))])
    assert not connected


@async_to_sync
async def _deliveries(recipient, bystander, publish) -> tuple[dict, bool]:
    """Connect both users, run ``publish`` (sync), return what each received."""
    mine, theirs = _communicator(recipient), _communicator(bystander)
    assert (await mine.connect(timeout=5))[0]
    assert (await theirs.connect(timeout=5))[0]
    await sync_to_async(publish)()
    received = await mine.receive_json_from(timeout=5)
    bystander_got_nothing = await theirs.receive_nothing(timeout=0.2)
    await mine.disconnect()
    await theirs.disconnect()
    return received, bystander_got_nothing


def test_event_published_to_a_user_reaches_only_that_user(make_user):
    alice, bob = make_user("end_user"), make_user("end_user")
    received, bob_got_nothing = _deliveries(
        alice, bob, lambda: publish_to_user(alice.pk, "activity", {"text": "for alice"})
    )
    assert received == {
        "seq": 1,
        "events": [{"event": "activity", "payload": {"text": "for alice"}}],
    }
    assert bob_got_nothing


def test_event_published_to_a_role_reaches_its_holders_only(make_user):
    auditor, end_user = make_user("auditor"), make_user("end_user")
    received, end_user_got_nothing = _deliveries(
        auditor,
        end_user,
        lambda: publish_to_group(role_group("auditor"), "audit.new", {"id": 7}),
    )
    assert received == {"seq": 1, "events": [{"event": "audit.new", "payload": {"id": 7}}]}
    assert end_user_got_nothing


def test_ping_task_publishes_to_the_user(make_user):
    alice, bob = make_user("end_user"), make_user("manager")
    received, bob_got_nothing = _deliveries(alice, bob, lambda: ping_user(alice.pk, "hello"))
    (event,) = received["events"]
    assert event["event"] == "activity"
    assert event["payload"]["text"] == "hello"
    assert event["payload"]["source"] == "worker"
    assert bob_got_nothing


@async_to_sync
async def _send_from_client_then_disconnect(user) -> bool:
    communicator = _communicator(user)
    await communicator.connect(timeout=5)
    await communicator.send_json_to({"event": "activity", "payload": {"text": "spoof"}})
    nothing = await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
    return nothing


def test_messages_from_the_browser_are_ignored(make_user):
    assert _send_from_client_then_disconnect(make_user("end_user"))


@pytest.mark.parametrize(
    ("group", "event"),
    [("user 1", "activity"), ("", "activity"), ("user.1", "Bad Event"), ("user.1", "")],
)
def test_malformed_names_are_refused(group, event):
    with pytest.raises(ValueError, match="invalid live"):
        publish_to_group(group, event, {})


@async_to_sync
async def _close_code_after(cookie: bytes, end_session) -> int | None:
    communicator = WebsocketCommunicator(
        application, "/ws/live/", headers=[ORIGIN, (b"cookie", cookie)]
    )
    assert (await communicator.connect(timeout=5))[0]
    await sync_to_async(end_session)()
    output = await communicator.receive_output(timeout=5)
    await communicator.wait()
    return output.get("code") if output["type"] == "websocket.close" else None


def test_sign_out_closes_the_sessions_live_connections(make_user):
    client = Client()
    client.force_login(make_user("end_user"))
    code = _close_code_after(_session_cookie_of(client), lambda: client.post("/accounts/logout/"))
    assert code == CLOSE_UNAUTHENTICATED


def test_sign_out_elsewhere_leaves_other_sessions_connected(make_user):
    user = make_user("end_user")
    here, elsewhere = Client(), Client()
    here.force_login(user)
    elsewhere.force_login(user)
    got_nothing = _stays_open(_session_cookie_of(here), lambda: elsewhere.post("/accounts/logout/"))
    assert got_nothing


@async_to_sync
async def _stays_open(cookie: bytes, action) -> bool:
    communicator = WebsocketCommunicator(
        application, "/ws/live/", headers=[ORIGIN, (b"cookie", cookie)]
    )
    assert (await communicator.connect(timeout=5))[0]
    await sync_to_async(action)()
    nothing = await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
    return nothing
