"""The home page and the ping endpoint that proves the live path."""

from __future__ import annotations

import pytest
from django.test import Client
from kombu.exceptions import OperationalError

from governance.accounts.models import Team, TeamMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """Record ping tasks instead of sending them to a broker."""
    calls: list[tuple] = []
    monkeypatch.setattr(
        "governance.core.views.ping_user.delay", lambda *args, **kwargs: calls.append(args)
    )
    return calls


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_home_requires_sign_in():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_home_shows_roles_and_teams(make_user):
    user = make_user("manager", "auditor", first_name="Ada")
    team = Team.objects.create(name="Platform", slug="platform")
    TeamMembership.objects.create(team=team, user=user, is_manager=True)
    html = _client_for(user).get("/").content.decode()
    assert "Welcome, Ada" in html
    assert "Manager</li>" in html
    assert "Auditor</li>" in html
    assert "Platform" in html
    assert "data-live-feed" in html


def test_home_without_roles_or_teams_shows_empty_states(make_user):
    html = _client_for(make_user()).get("/").content.decode()
    assert "No role yet" in html
    assert "No team yet" in html


def test_sign_out_is_a_post_form(make_user):
    html = _client_for(make_user("end_user")).get("/").content.decode()
    assert '<form method="post" action="/accounts/logout/">' in html


def test_ping_queues_the_task_for_the_sender(make_user, queued):
    user = make_user("end_user")
    response = _client_for(user).post("/ping/", {"text": "round trip"})
    assert response.status_code == 302
    assert queued == [(user.pk, "round trip")]


def test_ping_from_htmx_answers_with_the_form_fragment(make_user, queued):
    response = _client_for(make_user("end_user")).post(
        "/ping/", {"text": "hx"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Queued." in html
    assert "<html" not in html
    assert len(queued) == 1


def test_ping_with_an_empty_message_shows_an_inline_error(make_user, queued):
    response = _client_for(make_user("end_user")).post("/ping/", {"text": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_text_error"' in html
    assert 'aria-invalid="true"' in html
    assert queued == []


def test_ping_reports_an_unreachable_queue(make_user, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("governance.core.views.ping_user.delay", refuse)
    response = _client_for(make_user("end_user")).post("/ping/", {"text": "x"})
    assert response.status_code == 400
    assert "task queue is unreachable" in response.content.decode()


def test_ping_requires_sign_in(queued):
    assert Client().post("/ping/", {"text": "x"}).status_code == 302
    assert queued == []


def test_ping_refuses_get(make_user, queued):
    assert _client_for(make_user("end_user")).get("/ping/").status_code == 405
