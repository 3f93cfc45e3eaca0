"""The node options the exposure form's cluster select swaps in: only nodes of the chosen
cluster, only those the user may ask a report about, 404 for a cluster they may not."""

from __future__ import annotations

import pytest
from django.test import Client

from governance.accounts.roles import Role
from inventory.models import Node
from tests.factories import UserFactory
from tests.inventory.estate import make_cluster
from tests.inventory.views.test_exposure_pages import NOW, make_site

pytestmark = pytest.mark.django_db

URL = "/inventory/exposure/node-options/"


@pytest.fixture
def site():
    site = make_site()
    other = make_cluster("expo-opts")
    Node.objects.create(cluster=other, name="far-node", first_seen=NOW, last_seen=NOW)
    return site


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_reader_gets_only_the_chosen_clusters_nodes(site):
    client = _client(UserFactory(roles=[Role.AUDITOR]))
    response = client.get(URL, {"cluster": "expo-page", "node": "host2"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="host1">' in html
    assert '<option value="host2" selected>' in html
    assert "far-node" not in html
    everything = client.get(URL).content.decode()
    assert '<optgroup label="expo-opts">' in everything
    assert "host1" in everything


def test_an_end_user_gets_only_nodes_their_guests_lived_on(site):
    client = _client(site["owner"])
    html = client.get(URL, {"cluster": "expo-page"}).content.decode()
    assert '<option value="host1">' in html
    assert "host2" not in html
    assert client.get(URL, {"cluster": "expo-opts"}).status_code == 404
    assert client.get(URL, {"cluster": "no-such-cluster"}).status_code == 404
    assert "far-node" not in client.get(URL).content.decode()


def test_anonymous_is_sent_to_sign_in_and_writes_are_refused(client, site):
    response = client.get(URL, {"cluster": "expo-page"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert _client(UserFactory(roles=[Role.AUDITOR])).post(URL).status_code == 405


def test_the_cluster_select_asks_for_the_options(site):
    html = _client(UserFactory(roles=[Role.AUDITOR])).get("/inventory/exposure/").content.decode()
    assert f'hx-get="{URL}"' in html
    assert 'hx-target="#id_node"' in html
