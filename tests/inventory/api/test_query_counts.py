"""The VM list page and API cost the same number of SQL queries for 1 row and 100 rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.accounts.roles import Role
from inventory.models import Node, VirtualMachine
from tests.factories import UserFactory
from tests.inventory.estate import make_cluster, vm_row

pytestmark = pytest.mark.django_db


def _seed(count: int) -> None:
    """Exactly ``count`` guests, each with tags, on one node of one cluster."""
    now = timezone.now()
    VirtualMachine.objects.all().delete()
    node = Node.objects.select_related("cluster").first()
    if node is None:
        cluster = make_cluster("pve-count")
        node = Node.objects.create(cluster=cluster, name="n1", first_seen=now, last_seen=now)
    VirtualMachine.objects.bulk_create(
        vm_row(node.cluster, node, 100 + i, now=now, tags=["a", "b"], tags_text="a;b")
        for i in range(count)
    )


def _count(client: Client, url: str) -> tuple[int, int]:
    """Queries of one request (after a warm-up request) and the rows it showed."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    rows = (
        body.count('href="/inventory/vms/')
        if "html" in response["Content-Type"]
        else len(response.json()["results"])
    )
    return len(captured), rows


@pytest.mark.parametrize("url", ["/inventory/vms/", "/api/inventory/vms/?page_size=100"])
def test_same_query_count_for_1_and_100_rows(url):
    client = Client()
    client.force_login(UserFactory(roles=[Role.AUDITOR]))
    _seed(1)
    one, one_rows = _count(client, url)
    _seed(100)
    many, many_rows = _count(client, url)
    assert one_rows >= 1
    assert many_rows >= 50
    assert one == many, (one, many)
    assert one <= 15
