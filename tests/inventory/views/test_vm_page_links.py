"""The VM page links only what the viewer may open: no link that then answers 404."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from governance.accounts.roles import Role
from governance.ownership.services import ownership_assign
from tests.factories import UserFactory


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_owner_sees_the_cluster_name_without_a_link_they_could_not_follow(estate):
    web, cluster = estate["web"], estate["cluster"]
    owner = UserFactory(roles=[Role.END_USER])
    ownership_assign(actor=UserFactory(roles=[Role.ADMIN]), vm=web, owner=owner, reason="test")
    cluster_url = reverse("inventory:cluster", kwargs={"name": cluster.name})
    client = _client(owner)

    page = client.get(reverse("inventory:vm", kwargs={"pk": web.pk}))

    assert page.status_code == 200
    assert cluster.name in page.content.decode()
    assert cluster_url not in page.content.decode()
    assert client.get(cluster_url).status_code == 404


def test_an_auditor_follows_the_cluster_link(estate):
    web, cluster = estate["web"], estate["cluster"]
    cluster_url = reverse("inventory:cluster", kwargs={"name": cluster.name})
    client = _client(UserFactory(roles=[Role.AUDITOR]))

    page = client.get(reverse("inventory:vm", kwargs={"pk": web.pk}))

    assert f'href="{cluster_url}"' in page.content.decode()
    assert client.get(cluster_url).status_code == 200
