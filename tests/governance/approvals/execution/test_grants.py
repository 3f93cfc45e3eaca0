"""Time-limited access against pvesim: the ACL appears at the start, disappears at the end
together with the grantee's console, misses after downtime are repaired, admins revoke."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from governance.accounts.roles import Role
from governance.approvals.models import AccessGrant, GrantState
from governance.approvals.services.grants import grant_create, grant_revoke, grants_reconcile
from policy.models import PolicyKind, PolicyMode, RightsAssignment
from tests.factories import UserFactory
from tests.policy.enforce.helpers import plain_qemu, policy_make

pytestmark = pytest.mark.django_db

ROLE = "PVEVMUser"


@pytest.fixture
def running_vm(synced):
    guest = synced.guest(lambda g: plain_qemu(g) and g.running)
    return synced.vm(guest.vmid)


def _grant(user, vm, *, starts_in: float, lasts: float) -> AccessGrant:
    starts = timezone.now() + timedelta(seconds=starts_in)
    return AccessGrant.objects.create(
        user=user,
        vm=vm,
        role=ROLE,
        starts_at=starts,
        ends_at=starts + timedelta(seconds=lasts),
        proxmox_userid=f"{user.username}@pve",
        acl_path=f"/vms/{vm.vmid}",
    )


def _has_acl(synced, grant: AccessGrant) -> bool:
    return any(
        a.path == grant.acl_path and a.ugid == grant.proxmox_userid and a.roleid == ROLE
        for a in synced.gateway.acl()
    )


def _open_console(synced, vm, username: str, realm: str = "pve") -> str:
    """The grantee opens a VNC console with their own token; the proxy task's UPID."""
    sim, userid = synced.sim, f"{username}@{realm}"
    token = sim.api("POST", f"/access/users/{userid}/token/console", data={"privsep": 0})
    assert token.status_code == 200, token.text
    response = sim.session.post(
        f"{sim.url}/api2/json/nodes/{vm.node.name}/qemu/{vm.vmid}/vncproxy",
        headers={"Authorization": f"PVEAPIToken={userid}!console={token.json()['data']['value']}"},
        verify=str(sim.cert_file),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["upid"]


def test_access_starts_and_ends_on_time_and_the_console_is_stopped(synced, running_vm):
    alice = UserFactory(username="alice")
    grant = _grant(alice, running_vm, starts_in=60, lasts=600)

    assert grants_reconcile() == {"started": 0, "ended": 0, "failed": 0}
    assert not _has_acl(synced, grant)

    assert grants_reconcile(now=grant.starts_at)["started"] == 1
    grant.refresh_from_db()
    assert grant.state == GrantState.ACTIVE
    assert _has_acl(synced, grant)
    backed = RightsAssignment.objects.get(path=grant.acl_path, ugid="alice@pve", roleid=ROLE)
    assert backed.until == grant.ends_at
    console = _open_console(synced, running_vm, "alice")
    synced.sim.advance(1)
    assert synced.gateway.task_status(console).running

    assert grants_reconcile(now=grant.ends_at - timedelta(seconds=1))["ended"] == 0
    assert grants_reconcile(now=grant.ends_at)["ended"] == 1
    grant.refresh_from_db()
    assert grant.state == GrantState.ENDED
    assert grant.ended_at == grant.ends_at
    assert not _has_acl(synced, grant)
    assert not RightsAssignment.objects.filter(path=grant.acl_path, ugid="alice@pve").exists()
    assert not synced.gateway.task_status(console).running
    calls = dict(synced.gateway.calls)
    assert grants_reconcile(now=grant.ends_at + timedelta(seconds=30))["ended"] == 0
    assert synced.gateway.calls == calls


def test_only_the_grantees_console_is_stopped(synced, running_vm):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    mine = _grant(alice, running_vm, starts_in=0, lasts=300)
    theirs = _grant(bob, running_vm, starts_in=0, lasts=3600)
    grants_reconcile()
    alice_console = _open_console(synced, running_vm, "alice")
    bob_console = _open_console(synced, running_vm, "bob")
    synced.sim.advance(1)

    grants_reconcile(now=mine.ends_at)

    assert not synced.gateway.task_status(alice_console).running
    assert synced.gateway.task_status(bob_console).running
    theirs.refresh_from_db()
    assert theirs.state == GrantState.ACTIVE
    assert _has_acl(synced, theirs)


def test_an_overlapping_grant_keeps_the_acl_entry(synced, running_vm):
    alice = UserFactory(username="alice")
    short = _grant(alice, running_vm, starts_in=0, lasts=300)
    longer = _grant(alice, running_vm, starts_in=0, lasts=3600)
    grants_reconcile()
    grants_reconcile(now=short.ends_at)
    short.refresh_from_db()
    assert short.state == GrantState.ENDED
    assert _has_acl(synced, longer)
    assert RightsAssignment.objects.get(path=longer.acl_path).until == longer.ends_at


def test_the_reconciler_repairs_starts_and_ends_missed_during_downtime(synced, running_vm):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    missed_entirely = _grant(alice, running_vm, starts_in=-7200, lasts=3600)
    started_late = _grant(bob, running_vm, starts_in=-600, lasts=3600)

    counts = grants_reconcile()

    assert counts == {"started": 1, "ended": 1, "failed": 0}
    missed_entirely.refresh_from_db()
    started_late.refresh_from_db()
    assert missed_entirely.state == GrantState.ENDED
    assert missed_entirely.activated_at is None
    assert not _has_acl(synced, missed_entirely)
    assert started_late.state == GrantState.ACTIVE
    assert _has_acl(synced, started_late)


def test_an_admin_revokes_early_and_an_end_user_may_not(synced, running_vm):
    alice = UserFactory(username="alice", roles=[Role.END_USER])
    admin = UserFactory(username="root-admin", roles=[Role.ADMIN])
    grant = _grant(alice, running_vm, starts_in=0, lasts=3600)
    grants_reconcile()
    console = _open_console(synced, running_vm, "alice")
    synced.sim.advance(1)

    with pytest.raises(PermissionDenied):
        grant_revoke(grant=grant, actor=alice)
    assert _has_acl(synced, grant)

    grant_revoke(grant=grant, actor=admin)
    grant.refresh_from_db()
    assert grant.state == GrantState.REVOKED
    assert grant.revoked_by == admin
    assert not _has_acl(synced, grant)
    assert not synced.gateway.task_status(console).running
    assert grants_reconcile(now=grant.ends_at)["ended"] == 0


def test_grants_use_the_realm_the_rights_policy_configures(synced, running_vm):
    """People sign in through the realm of the ``unbacked_acl`` policy (here ``pam``, not
    the default ``pve``): the grant's user, ACL entry, backing row and console stop all
    use it."""
    policy_make(PolicyKind.UNBACKED_ACL, mode=PolicyMode.AUDIT, realm="pam")
    carol = UserFactory(username="carol")
    now = timezone.now()
    grant = grant_create(
        user=carol,
        vm=running_vm,
        role=ROLE,
        starts_at=now,
        ends_at=now + timedelta(minutes=10),
        request=None,
    )
    assert grant.proxmox_userid == "carol@pam"

    assert grants_reconcile(now=now)["started"] == 1

    assert "carol@pam" in {u.userid for u in synced.gateway.users()}
    assert "carol@pve" not in {u.userid for u in synced.gateway.users()}
    entries = {(a.path, a.ugid, a.roleid) for a in synced.gateway.acl()}
    assert (f"/vms/{running_vm.vmid}", "carol@pam", ROLE) in entries
    assert not any(ugid == "carol@pve" for _path, ugid, _role in entries)
    assert RightsAssignment.objects.filter(ugid="carol@pam", path=grant.acl_path).exists()
    console = _open_console(synced, running_vm, "carol", realm="pam")
    synced.sim.advance(1)

    assert grants_reconcile(now=grant.ends_at)["ended"] == 1

    assert not _has_acl(synced, grant)
    assert not synced.gateway.task_status(console).running
    assert not RightsAssignment.objects.filter(ugid="carol@pam").exists()
