"""The second-factor gate and pages: who is held, what stays reachable, and the pages' rules."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from governance.accounts import mfa
from governance.accounts.roles import Role
from governance.asgi import application
from governance.audit.models import AuditEvent
from governance.core.consumers import CLOSE_UNAUTHENTICATED
from tests.factories import TEST_PASSWORD, UserFactory
from tests.governance.accounts.mfa_helpers import code_for, enrolled

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")
VERIFY = reverse("accounts:mfa-verify")
ENROL = reverse("accounts:mfa-enrol")
API = "/api/inventory/vms/"


@pytest.fixture(autouse=True)
def admins_need_mfa(settings):
    settings.MFA_REQUIRED_ROLES = ["admin"]


def signed_in(username: str) -> Client:
    client = Client()
    answer = client.post(
        reverse("accounts:login"), {"username": username, "password": TEST_PASSWORD}
    )
    assert answer.status_code == 302
    return client


def test_a_required_role_without_a_device_reaches_only_enrolment():
    UserFactory(username="gate-admin", roles=[Role.ADMIN])
    client = signed_in("gate-admin")

    page = client.get(PROFILE)
    assert page.status_code == 302
    assert page["Location"] == f"{ENROL}?next=%2Faccounts%2Fprofile%2F"
    api = client.get(API)
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "mfa_required"
    enrol = client.get(ENROL)
    assert enrol.status_code == 200
    assert b"<svg" in enrol.content
    assert b'id="mfa-secret"' in enrol.content
    assert client.get("/static/does-not-exist.css").status_code == 404  # not sent to enrolment
    assert client.post(reverse("accounts:logout")).status_code == 302


def test_enrolment_shows_recovery_codes_and_opens_the_portal(otp_clock):
    user = UserFactory(username="gate-enrol", roles=[Role.ADMIN])
    client = signed_in("gate-enrol")
    client.get(ENROL)
    device = user.totp_devices.get()

    done = client.post(ENROL, {"code": code_for(device), "next": PROFILE})
    assert done.status_code == 200
    assert done.content.count(b"<li><code>") == 10
    assert client.get(PROFILE).status_code == 200
    assert client.get(API).status_code == 200


def test_a_user_with_a_device_gives_a_code_and_gets_a_new_session_id(otp_clock):
    user = UserFactory(username="gate-verify", roles=[Role.END_USER])
    device, _ = enrolled(user)
    client = signed_in("gate-verify")
    assert client.get(PROFILE)["Location"].startswith(VERIFY)
    assert client.get(API).status_code == 403
    before = client.session.session_key

    wrong = client.post(VERIFY, {"code": "000000"})
    assert wrong.status_code == 200
    assert b"not valid" in wrong.content
    otp_clock.step()
    right = client.post(VERIFY, {"code": code_for(device), "next": PROFILE})
    assert right.status_code == 302
    assert right["Location"] == PROFILE
    assert client.session.session_key != before
    assert client.get(PROFILE).status_code == 200
    assert client.get(API).status_code == 200
    assert AuditEvent.objects.filter(action="user.mfa_verified", target_id=str(user.pk)).exists()


def test_the_verify_step_refuses_a_next_address_on_another_host(otp_clock):
    device, _ = enrolled(UserFactory(username="gate-next"))
    client = signed_in("gate-next")
    otp_clock.step()
    answer = client.post(VERIFY, {"code": code_for(device), "next": "https://evil.example/"})
    assert answer["Location"] == reverse(settings.LOGIN_REDIRECT_URL)


def test_the_verify_step_locks_after_five_wrong_codes(otp_clock):
    device, _ = enrolled(UserFactory(username="gate-lock"))
    client = signed_in("gate-lock")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(VERIFY, {"code": "000000"})
    otp_clock.step()
    locked = client.post(VERIFY, {"code": code_for(device)})
    assert locked.status_code == 429
    assert b"Too many wrong codes" in locked.content
    assert client.get(PROFILE).status_code == 302


def test_a_role_without_the_requirement_and_no_device_is_not_held():
    UserFactory(username="gate-free", roles=[Role.END_USER])
    client = signed_in("gate-free")
    assert client.get(PROFILE).status_code == 200
    assert client.get(API).status_code == 200


def test_api_clients_without_a_session_are_not_held_by_the_gate():
    admin = UserFactory(username="gate-token", roles=[Role.ADMIN])
    assert APIClient().get(API).status_code == 401  # DRF's answer, not the gate's
    # A client its authenticator identifies on each request (as a token would) passes.
    client = APIClient()
    client.force_authenticate(user=admin)
    assert client.get(API).status_code == 200


def verified(username: str, device, otp_clock) -> Client:
    client = signed_in(username)
    otp_clock.step()
    assert client.post(VERIFY, {"code": code_for(device)}).status_code == 302
    return client


def test_a_reset_by_an_admin_sends_a_verified_session_back_to_enrolment(otp_clock):
    target = UserFactory(username="gate-reset-target", roles=[Role.ADMIN])
    admin = UserFactory(username="gate-reset-admin", roles=[Role.ADMIN])
    victim = verified("gate-reset-target", enrolled(target)[0], otp_clock)
    operator = verified("gate-reset-admin", enrolled(admin)[0], otp_clock)
    assert victim.get(PROFILE).status_code == 200

    answer = operator.post(reverse("accounts:mfa-reset"), {"user": "gate-reset-target"})
    assert answer.status_code == 302
    assert victim.get(PROFILE)["Location"].startswith(ENROL)


def test_an_admin_cannot_reset_their_own_factor_from_the_people_page(otp_clock):
    admin = UserFactory(username="gate-self", roles=[Role.ADMIN])
    client = verified("gate-self", enrolled(admin)[0], otp_clock)

    assert client.post(reverse("accounts:mfa-reset"), {"user": "gate-self"}).status_code == 403
    assert mfa.mfa_device(admin) is not None
    assert not AuditEvent.objects.filter(action="user.mfa_reset").exists()


def test_only_admins_reset_factors():
    UserFactory(username="gate-plain", roles=[Role.END_USER])
    UserFactory(username="gate-other")
    client = signed_in("gate-plain")
    assert client.post(reverse("accounts:mfa-reset"), {"user": "gate-other"}).status_code == 403


def test_the_profile_shows_the_status_and_removal_needs_a_code(otp_clock):
    user = UserFactory(username="gate-profile", roles=[Role.END_USER])
    _, codes = enrolled(user)
    client = signed_in("gate-profile")
    client.post(VERIFY, {"code": codes[0]})

    page = client.get(PROFILE)
    assert b"Recovery codes left: <strong>9</strong>" in page.content
    regenerated = client.post(reverse("accounts:mfa-recovery-codes"), {"code": codes[1]})
    assert regenerated.status_code == 200
    assert regenerated.content.count(b"<li><code>") == 10
    codes = re.findall(r"<li><code>([^<]+)</code>", regenerated.content.decode())
    client.post(reverse("accounts:mfa-remove"), {"code": "000000"})
    assert mfa.mfa_device(user) is not None
    gone = client.post(reverse("accounts:mfa-remove"), {"code": codes[1]}, follow=True)
    assert b"is removed" in gone.content
    assert mfa.mfa_device(user) is None
    assert client.get(PROFILE).status_code == 200


def test_a_session_owing_its_second_factor_gets_no_live_connection(otp_clock, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    enrolled(UserFactory(username="gate-live"))
    client = signed_in("gate-live")
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    @async_to_sync
    async def connect() -> tuple[bool, int | None]:
        headers = [(b"origin", b"http://localhost"), (b"cookie", cookie)]
        communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    assert connect() == (False, CLOSE_UNAUTHENTICATED)
