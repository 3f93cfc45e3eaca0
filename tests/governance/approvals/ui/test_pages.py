"""Request pages: the permission triple, submission through the forms, the inbox, the
request page and its VM-page entry point."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from governance.approvals.models import Request, RequestState
from governance.approvals.services.requests import request_submit

pytestmark = pytest.mark.django_db


def _migrate(scene, *, key: str | None = None) -> Request:
    return request_submit(
        requester=scene.alice,
        kind="migrate",
        vm=scene.web,
        parameters={"target_node": "node2", "online": True},
        justification="drain node1 for maintenance",
        idempotency_key=key or str(uuid.uuid4()),
    )


def _post_migrate(client, scene, key: str, **extra):
    return client.post(
        f"{reverse('approvals:new', kwargs={'kind': 'migrate'})}?vm={scene.web.pk}",
        {
            "vm": scene.web.pk,
            "target_node": scene.node2.pk,
            "online": "on",
            "justification": "drain node1 for maintenance",
            "idempotency_key": key,
            **extra,
        },
    )


def test_request_form_triple(client, scene):
    url = f"{reverse('approvals:new', kwargs={'kind': 'migrate'})}?vm={scene.web.pk}"
    client.force_login(scene.alice)
    page = client.get(url)
    assert page.status_code == 200
    assert b"node2" in page.content
    client.force_login(scene.carol)
    assert client.get(url).status_code == 404
    assert client.get(reverse("approvals:new", kwargs={"kind": "reboot"})).status_code == 404


def test_submitting_twice_with_one_key_stores_one_request(client, scene):
    client.force_login(scene.alice)
    key = str(uuid.uuid4())
    first = _post_migrate(client, scene, key)
    second = _post_migrate(client, scene, key)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Request.objects.filter(requester=scene.alice).count() == 1


def test_a_refused_submission_stays_on_the_form_and_stores_nothing(client, scene):
    client.force_login(scene.alice)
    answer = _post_migrate(client, scene, str(uuid.uuid4()), justification="why")
    assert answer.status_code == 400
    assert b"Ensure this value has at least" in answer.content
    assert not Request.objects.exists()


def test_preview_shows_the_approvals_needed_without_storing(client, scene):
    client.force_login(scene.alice)
    answer = _post_migrate(client, scene, str(uuid.uuid4()), preview="1")
    assert answer.status_code == 200
    assert b"Approvals it will need" in answer.content
    assert b"Team manager" in answer.content
    assert not Request.objects.exists()


def test_request_page_triple(client, scene):
    found = _migrate(scene)
    url = reverse("approvals:request", kwargs={"pk": found.pk})
    for user in (scene.alice, scene.manager, scene.auditor, scene.admin):
        client.force_login(user)
        assert client.get(url).status_code == 200, user
        assert (
            client.get(reverse("approvals:request-live", kwargs={"pk": found.pk})).status_code
            == 200
        )
    client.force_login(scene.carol)
    assert client.get(url).status_code == 404
    assert client.get(reverse("approvals:request-live", kwargs={"pk": found.pk})).status_code == 404


def test_the_inbox_lists_what_waits_for_me_oldest_first(client, scene):
    first, second = _migrate(scene), _migrate(scene)
    client.force_login(scene.manager)
    page = client.get(reverse("approvals:inbox")).content.decode()
    ids = [int(n) for n in re.findall(r'href="/approvals/(\d+)/">#', page)]
    assert ids == [first.pk, second.pk]
    for user in (scene.alice, scene.carol, scene.auditor):
        client.force_login(user)
        page = client.get(reverse("approvals:inbox")).content.decode()
        assert "Nothing waits for your decision." in page, user


def test_my_requests_lists_only_mine(client, scene):
    found = _migrate(scene)
    client.force_login(scene.alice)
    assert f"#{found.pk}" in client.get(reverse("approvals:mine")).content.decode()
    client.force_login(scene.carol)
    assert f"#{found.pk}" not in client.get(reverse("approvals:mine")).content.decode()


def test_the_requester_cancels_a_pending_request_others_cannot(client, scene):
    found = _migrate(scene)
    url = reverse("approvals:cancel", kwargs={"pk": found.pk})
    client.force_login(scene.carol)
    assert client.post(url).status_code == 404
    client.force_login(scene.manager)
    client.post(url)
    found.refresh_from_db()
    assert found.state == RequestState.PENDING
    client.force_login(scene.alice)
    assert client.post(url).status_code == 302
    found.refresh_from_db()
    assert found.state == RequestState.CANCELLED


def test_vm_page_offers_requests_and_lists_them(client, scene):
    found = _migrate(scene)
    client.force_login(scene.alice)
    page = client.get(reverse("inventory:vm", kwargs={"pk": scene.web.pk})).content.decode()
    assert f"/approvals/new/migrate/?vm={scene.web.pk}" in page
    assert f"/approvals/{found.pk}/" in page


def _nav(client) -> list[str]:
    page = client.get(reverse("core:home")).content.decode()
    nav = page[page.index('<nav class="mainnav"') : page.index("</nav>")]
    return re.findall(r">([^<>]+)</a>", nav)


def test_navigation_by_role(client, scene):
    client.force_login(scene.alice)
    assert "Requests" in _nav(client)
    assert "Approvals" not in _nav(client)
    client.force_login(scene.manager)
    assert "Approvals" in _nav(client)
    assert "Approval chains" not in _nav(client)
    client.force_login(scene.admin)
    assert {"Requests", "Approvals", "Approval chains"} <= set(_nav(client))


def test_an_end_user_requests_a_new_vm_on_a_cluster_open_for_requests(client, scene):
    client.force_login(scene.alice)
    page = client.get(reverse("approvals:new", kwargs={"kind": "provision"}))
    assert page.status_code == 200
    assert 'data-testid="request-form"' in page.content.decode()
    # Without approved storage the cluster takes no new guests.
    scene.approved.storage_class = "unclassified"
    scene.approved.save(update_fields=["storage_class"])
    page = client.get(reverse("approvals:new", kwargs={"kind": "provision"}))
    assert "No cluster available" in page.content.decode()
