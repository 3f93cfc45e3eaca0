"""Sessions end after the idle limit or the absolute limit, whichever comes first."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.urls import reverse

from governance.accounts.middleware import _SEEN, _STARTED
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")


@pytest.fixture
def signed_in(client):
    UserFactory(username="ada")
    assert (
        client.post(
            reverse("accounts:login"), {"username": "ada", "password": TEST_PASSWORD}
        ).status_code
        == 302
    )
    return client


def _shift(client, **seconds_ago: float) -> None:
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_sign_in_starts_both_clocks(signed_in):
    session = signed_in.session
    assert abs(session[_STARTED] - time.time()) < 5
    assert abs(session[_SEEN] - time.time()) < 5


def test_active_session_stays_signed_in(signed_in):
    _shift(signed_in, **{_SEEN: settings.SESSION_IDLE_TIMEOUT - 5})
    assert signed_in.get(PROFILE).status_code == 200
    # The visit restarted the idle clock.
    assert time.time() - signed_in.session[_SEEN] < 5


def test_idle_session_expires(signed_in):
    _shift(signed_in, **{_SEEN: settings.SESSION_IDLE_TIMEOUT + 1})
    response = signed_in.get(PROFILE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "_auth_user_id" not in signed_in.session


def test_absolute_limit_expires_even_an_active_session(signed_in):
    _shift(
        signed_in,
        **{_STARTED: settings.SESSION_ABSOLUTE_TIMEOUT + 1, _SEEN: 1},
    )
    response = signed_in.get(PROFILE)

    assert response.status_code == 302
    assert "_auth_user_id" not in signed_in.session
    followed = signed_in.get(response["Location"])
    assert b"Your session expired" in followed.content
