"""ACL evaluation, built-in roles, 403 wording, silent list filtering and pools."""

from __future__ import annotations

from typing import Any

import pytest

from pvesim.cluster import Cluster
from tests.pvesim.conftest import Sim
from tests.pvesim.pve_schema import check_returns, returns_of_release


def _user(sim: Sim, userid: str = "bob@pve", groups: str | None = None) -> str:
    data = {"userid": userid, "password": "bobpassword"}
    if groups:
        data["groups"] = groups
    assert sim.api("POST", "/access/users", data=data).status_code == 200
    token = sim.api("POST", f"/access/users/{userid}/token/tk", data={"privsep": "0"}).json()[
        "data"
    ]
    return f"PVEAPIToken={userid}!tk={token['value']}"


def _grant(sim: Sim, path: str, role: str, **who: Any) -> None:
    response = sim.api("PUT", "/access/acl", data={"path": path, "roles": role, **who})
    assert response.status_code == 200, response.reason


def _privs(sim: Sim, path: str, userid: str = "bob@pve") -> dict[str, int]:
    response = sim.api("GET", "/access/permissions", params={"userid": userid, "path": path})
    return response.json()["data"][path]


def _vmid(sim: Sim, *, in_pool: str | None = None) -> int:
    guests = sim.cluster.estate.guests.values()
    return next(g.vmid for g in guests if g.pool == in_pool)


def test_propagation_and_override_by_more_specific_paths(sim: Sim) -> None:
    _user(sim)
    vmid = _vmid(sim)
    _grant(sim, "/vms", "PVEVMUser", users="bob@pve", propagate="0")
    assert _privs(sim, f"/vms/{vmid}") == {}
    assert "VM.PowerMgmt" in _privs(sim, "/vms")
    _grant(sim, "/", "PVEAdmin", users="bob@pve")
    # /vms holds a non-propagating PVEVMUser that replaces PVEAdmin at /vms itself...
    assert "VM.Allocate" not in _privs(sim, "/vms")
    # ...but below /vms only propagating entries count, so PVEAdmin from / applies.
    assert "VM.Allocate" in _privs(sim, f"/vms/{vmid}")
    _grant(sim, f"/vms/{vmid}", "NoAccess", users="bob@pve")
    assert _privs(sim, f"/vms/{vmid}") == {}


def test_user_entries_override_group_entries(sim: Sim) -> None:
    sim.api("POST", "/access/groups", data={"groupid": "ops"})
    _user(sim, groups="ops")
    _grant(sim, "/", "PVEAuditor", groups="ops")
    assert "Sys.Audit" in _privs(sim, "/nodes")
    _grant(sim, "/", "PVEDatastoreUser", users="bob@pve")
    assert set(_privs(sim, "/nodes")) == {"Datastore.AllocateSpace", "Datastore.Audit"}


def test_guests_inherit_their_pools_acls(sim: Sim) -> None:
    auth = _user(sim)
    pooled, other = _vmid(sim, in_pool="prod"), _vmid(sim)
    _grant(sim, "/pool/prod", "PVEVMAdmin", users="bob@pve")
    assert "VM.Allocate" in _privs(sim, f"/vms/{pooled}")
    assert _privs(sim, f"/vms/{other}") == {}
    pools = sim.api("GET", "/pools", auth=auth).json()["data"]
    assert pools == []  # PVEVMAdmin has no Pool.Audit: the list is silently empty
    _grant(sim, "/pool/prod", "PVEPoolUser", users="bob@pve")
    members = sim.api("GET", "/pools", auth=auth, params={"poolid": "prod"}).json()["data"]
    assert {m["vmid"] for m in members[0]["members"] if "vmid" in m} >= {pooled}


def test_403_wording_and_silent_user_list(sim: Sim) -> None:
    auth = _user(sim)
    denied = sim.api("GET", "/cluster/status", auth=auth)
    assert denied.status_code == 403
    assert denied.reason == "Permission check failed (/, Sys.Audit)"
    assert denied.json()["message"] == "Permission check failed (/, Sys.Audit)\n"
    users = sim.api("GET", "/access/users", auth=auth).json()["data"]
    assert [u["userid"] for u in users] == ["bob@pve"]  # always includes oneself


def test_builtin_roles_match_pve_91(sim: Sim) -> None:
    roles = {r["roleid"]: r for r in sim.api("GET", "/access/roles").json()["data"]}
    assert roles["PVEVMUser"]["special"] == 1
    assert "VM.GuestAgent.Audit" in roles["PVEVMUser"]["privs"].split(",")
    admin = set(roles["PVEAdmin"]["privs"].split(","))
    assert not admin & {"Sys.Modify", "Sys.PowerMgmt", "Permissions.Modify", "Mapping.Modify"}
    assert roles["NoAccess"]["privs"] == ""
    changed = sim.api("PUT", "/access/roles/PVEAdmin", data={"privs": "VM.Audit"})
    assert changed.status_code == 500


def test_builtin_roles_match_pve_84(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(pve="8")
    listed = sim.api("GET", "/access/roles").json()["data"]
    roles = {r["roleid"]: set(r["privs"].split(",")) - {""} for r in listed}
    assert "VM.Monitor" in roles["PVEVMAdmin"] & roles["PVEAdmin"]
    assert "VM.Monitor" not in roles["PVEVMUser"]
    held = set().union(*roles.values())
    assert not {p for p in held if p.startswith("VM.GuestAgent.") or p == "VM.Replicate"}
    categories = ("Datastore", "Mapping", "Pool", "SDN", "Sys", "VM")
    assert roles["PVEAuditor"] == {f"{category}.Audit" for category in categories}
    assert not roles["PVEAdmin"] & {"Sys.AccessNetwork", "Sys.Incoming", "Mapping.Modify"}
    administrator = sim.api("GET", "/access/roles/Administrator").json()["data"]
    assert len(administrator) == 42  # every privilege an 8.4 root@pam holds
    assert administrator["VM.Monitor"] == 1
    _user(sim)
    _grant(sim, "/vms", "PVEVMAdmin", users="bob@pve")
    assert "VM.Monitor" in _privs(sim, "/vms")
    restored = Cluster.from_json(sim.cluster.to_json(), clock=sim.cluster.clock)
    assert restored.access.roles == sim.cluster.access.roles  # saved state keeps 8.4's roles


@pytest.mark.parametrize(
    ("major", "fits", "misfits"),
    [(8, "VM.Monitor", "VM.GuestAgent.Audit"), (9, "VM.GuestAgent.Audit", "VM.Monitor")],
)
def test_role_reads_are_held_to_their_releases_privilege_names(major, fits, misfits) -> None:  # type: ignore[no-untyped-def]
    returns = returns_of_release(("GET", "/access/roles/{roleid}"), major)
    assert check_returns(returns, {fits: 1, "VM.Audit": 1}) == []
    assert check_returns(returns, {misfits: 1}) == [f"data: unexpected {misfits}"]


def test_acl_refusals(sim: Sim) -> None:
    _user(sim)
    bad_path = sim.api(
        "PUT", "/access/acl", data={"path": "/bogus", "roles": "PVEAuditor", "users": "bob@pve"}
    )
    assert bad_path.status_code == 400
    assert bad_path.json()["errors"] == {"path": "invalid ACL path '/bogus'"}
    bad_role = sim.api(
        "PUT", "/access/acl", data={"path": "/", "roles": "Nope", "users": "bob@pve"}
    )
    assert (bad_role.status_code, bad_role.reason) == (500, "role 'Nope' does not exist")


def test_granting_without_permissions_modify_is_limited_to_own_privileges(sim: Sim) -> None:
    auth = _user(sim)
    _user(sim, "carol@pve")
    _grant(sim, "/vms", "PVEVMAdmin", users="bob@pve")  # VM.Allocate allows perm-modify
    ok = sim.api(
        "PUT",
        "/access/acl",
        auth=auth,
        data={"path": "/vms/100", "roles": "PVEVMUser", "users": "carol@pve"},
    )
    assert ok.status_code == 200
    escalate = sim.api(
        "PUT",
        "/access/acl",
        auth=auth,
        data={"path": "/vms/100", "roles": "Administrator", "users": "carol@pve"},
    )
    assert escalate.status_code == 403


def test_pool_membership_rules(sim: Sim) -> None:
    pooled = _vmid(sim, in_pool="prod")
    sim.api("POST", "/pools", data={"poolid": "other"})
    moved = sim.api("PUT", "/pools", data={"poolid": "other", "vms": str(pooled)})
    assert moved.reason == f"VM {pooled} belongs already to pool 'prod' and 'allow-move' is not set"
    ok = sim.api("PUT", "/pools", data={"poolid": "other", "vms": str(pooled), "allow-move": "1"})
    assert ok.status_code == 200
    assert sim.cluster.estate.guests[pooled].pool == "other"
    busy = sim.api("DELETE", "/pools", params={"poolid": "other"})
    assert busy.reason == f"pool 'other' is not empty (contains VM {pooled})"


@pytest.mark.parametrize(
    ("pve", "known", "unknown"),
    [
        ("9", "VM.GuestAgent.Audit", "VM.Monitor"),
        ("8", "VM.Monitor", "VM.GuestAgent.Audit"),
        ("8", "VM.Monitor", "VM.Replicate"),
    ],
)
def test_each_release_knows_its_own_privilege_names(make_sim, pve, known, unknown) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(pve=pve)
    ok = sim.api("POST", "/access/roles", data={"roleid": "Known", "privs": f"VM.Audit,{known}"})
    assert ok.status_code == 200
    # The role's own read answers under the release's names (see returns_of_release).
    assert sim.api("GET", "/access/roles/Known").json()["data"] == {known: 1, "VM.Audit": 1}
    refused = sim.api("POST", "/access/roles", data={"roleid": "Other", "privs": unknown})
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"privs": f"invalid privilege '{unknown}'"}
