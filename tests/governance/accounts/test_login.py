"""Signing in and out: credentials, CSRF, lockout after repeated failures, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from governance.audit.models import AuditEvent
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_login_page_renders_a_form(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_good_credentials_sign_in_and_are_audited(client):
    user = UserFactory(username="ada")
    response = sign_in(client, "ada", TEST_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    assert client.get(reverse("accounts:profile")).status_code == 200
    assert AuditEvent.objects.filter(action="user.login", actor=user).count() == 1


def test_bad_password_is_refused_with_a_message_and_audited(client):
    UserFactory(username="ada")
    response = sign_in(client, "ada", "wrong-password")

    assert response.status_code == 200
    assert b"correct username and password" in response.content
    assert "_auth_user_id" not in client.session
    failure = AuditEvent.objects.get(action="user.login_failed")
    assert (failure.actor, failure.after) == (None, {"username": "ada"})


def test_lockout_after_the_failure_limit_then_unlock_after_cool_off(client):
    UserFactory(username="ada")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "ada", "wrong-password").status_code == 200

    locked = sign_in(client, "ada", "wrong-password")
    assert locked.status_code == 429
    assert b"Try again in" in locked.content
    # Even the right password is refused while locked.
    assert sign_in(client, "ada", TEST_PASSWORD).status_code == 429
    # Another user from the same address is not locked out (username+IP lockout).
    UserFactory(username="bob")
    assert sign_in(Client(), "bob", TEST_PASSWORD).status_code == 302

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - settings.AXES_COOLOFF_TIME
        - timedelta(seconds=1)
    )
    assert sign_in(client, "ada", TEST_PASSWORD).status_code == 302


def test_logout_requires_post(client):
    UserFactory(username="ada")
    sign_in(client, "ada", TEST_PASSWORD)

    assert client.get(reverse("accounts:logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="user.logout").count() == 1


def test_logout_without_csrf_token_is_refused():
    user = UserFactory(username="ada")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(reverse("accounts:logout")).status_code == 403
    assert client.get(reverse("accounts:profile")).status_code == 200
