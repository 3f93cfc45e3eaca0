"""Notifications: de-duplicated per person, listed only to their owner, one digest a day."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from governance.notifications.digest import digest_send
from governance.notifications.models import Notification
from governance.notifications.services import notify, notify_many
from governance.notifications.tasks import send_digests
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_unread_notification_is_not_repeated():
    user = UserFactory()
    assert notify(user=user, kind="lease.7", subject="s", link="/vm/1/") is not None
    assert notify(user=user, kind="lease.7", subject="s again", link="/vm/1/") is None
    assert notify(user=user, kind="lease.7", subject="other vm", link="/vm/2/") is not None
    Notification.objects.filter(user=user).update(read_at=timezone.now())
    assert notify(user=user, kind="lease.7", subject="s", link="/vm/1/") is not None
    assert Notification.objects.filter(user=user).count() == 3


def test_inactive_people_are_not_notified_and_live_push_follows_commit(
    django_capture_on_commit_callbacks, settings
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    active, gone = UserFactory(), UserFactory(is_active=False)
    with django_capture_on_commit_callbacks() as callbacks:
        rows = notify_many(users=[active, gone, None], kind="k", subject="s")
    assert [row.user_id for row in rows] == [active.pk]
    assert len(callbacks) == 1


def test_one_digest_per_person_per_day_with_everything_new():
    user = UserFactory(email="ann@example.org")
    for n in range(3):
        notify(user=user, kind="lease.7", subject=f"VM {n} lease ends", link=f"/vm/{n}/")
    # Noon tomorrow, so "5 minutes later" is the same day whenever the test runs.
    now = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=1), time(12)))

    assert digest_send(user_id=user.pk, now=now) == 3
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ann@example.org"]
    assert "VM 2 lease ends" in mail.outbox[0].body

    notify(user=user, kind="claim", subject="later that day")
    assert digest_send(user_id=user.pk, now=now + timedelta(minutes=5)) == 0
    assert len(mail.outbox) == 1
    assert digest_send(user_id=user.pk, now=now + timedelta(days=1)) == 1
    assert "later that day" in mail.outbox[1].body


def test_the_daily_task_mails_each_due_person_once():
    ann, bob = UserFactory(email="ann@example.org"), UserFactory(email="bob@example.org")
    no_mail = UserFactory(email="")
    for user in (ann, bob, no_mail):
        notify(user=user, kind="k", subject="s")
        notify(user=user, kind="k2", subject="s2")
    assert send_digests() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.org", "bob@example.org"]
    assert send_digests() == 0


def test_the_list_page_shows_only_ones_own_and_marks_read():
    ann, bob = UserFactory(), UserFactory()
    notify(user=ann, kind="k", subject="for ann", link="/a/")
    notify(user=bob, kind="k", subject="for bob", link="/b/")
    mine_id = Notification.objects.get(user=ann).pk
    theirs_id = Notification.objects.get(user=bob).pk
    client = Client()
    client.force_login(ann)

    page = client.get("/notifications/").content.decode()
    assert "for ann" in page
    assert "for bob" not in page
    assert 'data-unread="1"' in client.get("/").content.decode()  # the top-bar count
    assert client.post(f"/notifications/{theirs_id}/read/").status_code == 404
    assert client.post(f"/notifications/{mine_id}/read/").status_code == 302
    assert Notification.objects.get(pk=mine_id).read_at is not None
    assert Notification.objects.get(pk=theirs_id).read_at is None
    assert client.get(f"/notifications/{mine_id}/read/").status_code == 405
    assert Client().get("/notifications/").status_code == 302


def test_digest_links_are_absolute_with_the_base_url(settings):
    settings.STEWARD_BASE_URL = "https://steward.example.org"
    user = UserFactory(email="ann@example.org")
    notify(user=user, kind="lease.7", subject="lease ends", link="/inventory/vms/7/")

    assert digest_send(user_id=user.pk) == 1
    assert "https://steward.example.org/inventory/vms/7/" in mail.outbox[0].body


def test_the_bell_is_styled_by_the_stylesheet_not_inline():
    client = Client()
    client.force_login(UserFactory())
    page = client.get("/").content.decode()
    start = page.index('class="notification-bell"')
    assert "style=" not in page[start : page.index(">", start)]
