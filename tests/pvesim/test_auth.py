"""Tickets, CSRF, API tokens, privilege separation, expiry and the auth-layer 401s."""

from __future__ import annotations

import time

import requests

from tests.pvesim.conftest import ROOT_PASSWORD, Sim


def _login(
    sim: Sim, username: str = "root@pam", password: str = ROOT_PASSWORD
) -> requests.Response:
    return sim.api(
        "POST", "/access/ticket", auth="", data={"username": username, "password": password}
    )


def _cookie(ticket: str) -> dict[str, str]:
    return {"Cookie": f"PVEAuthCookie={ticket}"}


def test_ticket_login_and_csrf_on_writes(sim: Sim) -> None:
    login = _login(sim)
    assert login.status_code == 200
    data = login.json()["data"]
    assert data["username"] == "root@pam"
    assert data["ticket"].startswith("PVE:root@pam:")
    assert data["cap"]["vms"]["VM.Allocate"] == 1
    headers = _cookie(data["ticket"])
    assert sim.api("GET", "/version", auth="", headers=headers).status_code == 200
    refused = sim.api("POST", "/pools", auth="", headers=headers, data={"poolid": "p1"})
    assert refused.status_code == 401
    assert refused.reason == "Permission denied - invalid csrf token"
    assert refused.content == b""
    allowed = sim.api(
        "POST",
        "/pools",
        auth="",
        headers={**headers, "CSRFPreventionToken": data["CSRFPreventionToken"]},
        data={"poolid": "p1"},
    )
    assert allowed.status_code == 200
    assert allowed.json() == {"data": None}


def test_ticket_renewal_by_posting_the_ticket(sim: Sim) -> None:
    ticket = _login(sim).json()["data"]["ticket"]
    renewed = _login(sim, password=ticket)
    assert renewed.status_code == 200
    assert renewed.json()["data"]["ticket"].startswith("PVE:root@pam:")


def test_wrong_password_is_401_with_json_message(sim: Sim) -> None:
    response = _login(sim, password="nope")
    assert response.status_code == 401
    assert response.reason == "authentication failure"
    assert response.json() == {"data": None, "message": "authentication failure\n"}
    unknown = _login(sim, username="ghost@pve")
    assert unknown.reason == "authentication failure"  # no user enumeration


def test_auth_layer_401s_have_empty_bodies(sim: Sim) -> None:
    none = sim.api("GET", "/version", auth="")
    assert (none.status_code, none.reason, none.content) == (401, "No ticket", b"")
    bad = sim.api("GET", "/version", auth=f"PVEAPIToken={sim.token_id}=wrong")
    assert (bad.status_code, bad.reason, bad.content) == (401, "Authentication failed!", b"")
    forged = sim.api("GET", "/version", auth="", headers=_cookie("PVE:root@pam:00000000::AAAA"))
    assert (forged.status_code, forged.content) == (401, b"")


def test_auth_delay_is_configurable(sim: Sim) -> None:
    sim.control("POST", "auth-delay", seconds=0.3)
    started = time.monotonic()
    response = sim.api("GET", "/version", auth=f"PVEAPIToken={sim.token_id}=wrong")
    assert response.status_code == 401
    assert time.monotonic() - started >= 0.3


def test_token_refused_on_ticket_only_methods(sim: Sim) -> None:
    response = sim.api("PUT", "/access/password", data={"userid": "root@pam", "password": "x" * 8})
    assert response.status_code == 403
    assert response.reason == (
        "URI '/api2/json/access/password' not available with API token, need proper ticket."
    )


def _user_with_token(sim: Sim, *, role: str, privsep: bool) -> str:
    sim.api("POST", "/access/users", data={"userid": "alice@pve", "password": "alicepass"})
    sim.api("PUT", "/access/acl", data={"path": "/", "roles": role, "users": "alice@pve"})
    created = sim.api(
        "POST", "/access/users/alice@pve/token/ci", data={"privsep": "1" if privsep else "0"}
    ).json()["data"]
    assert created["full-tokenid"] == "alice@pve!ci"
    return f"PVEAPIToken=alice@pve!ci={created['value']}"


def test_privsep_token_starts_with_nothing_and_gets_the_intersection(sim: Sim) -> None:
    auth = _user_with_token(sim, role="PVEAuditor", privsep=True)
    denied = sim.api("GET", "/cluster/status", auth=auth)
    assert denied.status_code == 403
    assert denied.reason == "Permission check failed (/, Sys.Audit)"
    sim.api(
        "PUT", "/access/acl", data={"path": "/", "roles": "Administrator", "tokens": "alice@pve!ci"}
    )
    assert sim.api("GET", "/cluster/status", auth=auth).status_code == 200
    # The token holds Administrator but its user only PVEAuditor: no Pool.Allocate.
    refused = sim.api("POST", "/pools", auth=auth, data={"poolid": "nope"})
    assert refused.status_code == 403
    assert refused.reason == "Permission check failed (/pool/nope, Pool.Allocate)"


def test_non_privsep_token_has_its_users_privileges(sim: Sim) -> None:
    auth = _user_with_token(sim, role="PVEAuditor", privsep=False)
    assert sim.api("GET", "/cluster/status", auth=auth).status_code == 200


def test_disabled_or_expired_user_loses_tickets_and_tokens(sim: Sim) -> None:
    auth = _user_with_token(sim, role="PVEAuditor", privsep=False)
    ticket = _login(sim, "alice@pve", "alicepass").json()["data"]["ticket"]
    sim.api("PUT", "/access/users/alice@pve", data={"enable": "0"})
    assert sim.api("GET", "/version", auth=auth).status_code == 401
    assert sim.api("GET", "/version", auth="", headers=_cookie(ticket)).status_code == 401
    assert _login(sim, "alice@pve", "alicepass").status_code == 401
    sim.api("PUT", "/access/users/alice@pve", data={"enable": "1"})
    assert sim.api("GET", "/version", auth=auth).status_code == 200
    expire = int(sim.cluster.now()) + 60
    sim.api("PUT", "/access/users/alice@pve", data={"expire": str(expire)})
    assert sim.api("GET", "/version", auth=auth).status_code == 200
    sim.advance(120)
    assert sim.api("GET", "/version", auth=auth).status_code == 401


def test_token_expiry(sim: Sim) -> None:
    auth = _user_with_token(sim, role="PVEAuditor", privsep=False)
    expire = int(sim.cluster.now()) + 30
    sim.api("PUT", "/access/users/alice@pve/token/ci", data={"expire": str(expire)})
    assert sim.api("GET", "/version", auth=auth).status_code == 200
    sim.advance(60)
    assert sim.api("GET", "/version", auth=auth).status_code == 401


def test_ticket_expires_after_two_hours(sim: Sim) -> None:
    ticket = _login(sim).json()["data"]["ticket"]
    sim.advance(7300)
    assert sim.api("GET", "/version", auth="", headers=_cookie(ticket)).status_code == 401
