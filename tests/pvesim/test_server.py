"""Transport, envelope and error contract (NOTES.md section 2)."""

from __future__ import annotations

import gzip
import http.client
import json
import ssl

import requests

from pvesim.spec.types import MSG_UNKNOWN
from tests.pvesim.conftest import Sim


def test_version_with_token_has_envelope_and_pve_headers(sim: Sim) -> None:
    response = sim.api("GET", "/version")
    assert response.status_code == 200
    assert response.json() == {
        "data": {"version": "9.1.9", "release": "9.1", "repoid": "ee5e3ee5f5ab2ef3"}
    }
    assert response.headers["Server"] == "pve-api-daemon/3.0"
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.headers["Cache-Control"] == "max-age=0"


def test_unknown_path_is_501_with_reason_phrase(sim: Sim) -> None:
    response = sim.api("GET", "/nodes/x/nothing-here")
    assert response.status_code == 501
    assert response.reason == "Method 'GET /nodes/x/nothing-here' not implemented"
    assert response.json()["message"] == "Method 'GET /nodes/x/nothing-here' not implemented\n"


def test_body_on_get_is_501(sim: Sim) -> None:
    response = sim.api("GET", "/version", data="a=b", headers={"Content-Type": "text/plain"})
    assert response.status_code == 501
    assert response.reason == "Unexpected content for method 'GET'"


def test_unknown_parameter_is_400_with_errors(sim: Sim) -> None:
    response = sim.api("GET", "/version", params={"bogus": "1"})
    assert response.status_code == 400
    assert response.reason == "Parameter verification failed."
    body = response.json()
    assert body["data"] is None
    assert body["errors"] == {"bogus": MSG_UNKNOWN}


def test_pve_82_profile_has_no_message_key(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(pve="8.2")
    response = sim.api("GET", "/version", params={"bogus": "1"})
    assert response.status_code == 400
    assert "message" not in response.json()
    assert sim.api("GET", "/version").json()["data"]["release"] == "8.2"


def test_keep_alive_serves_many_requests_on_one_connection(sim: Sim) -> None:
    tls = ssl.create_default_context(cafile=str(sim.server.certificate.cert_file))
    connection = http.client.HTTPSConnection(sim.host, sim.port, context=tls)
    connection.connect()
    sock = connection.sock
    for _ in range(5):
        connection.request(
            "GET",
            "/api2/json/version",
            headers={"Authorization": f"PVEAPIToken={sim.token_id}={sim.token_secret}"},
        )
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["data"]["version"] == "9.1.9"
        assert connection.sock is sock
    connection.close()


def test_large_bodies_are_gzipped_when_accepted(sim: Sim) -> None:
    response = sim.api("GET", "/cluster/tasks", headers={"Accept-Encoding": "gzip"}, stream=True)
    # Small answers are never compressed; the header only appears above 1 KiB.
    assert response.status_code == 200
    if "Content-Encoding" in response.headers:
        assert gzip.decompress(response.raw.read())


def test_control_api_needs_key(sim: Sim) -> None:
    response = requests.post(
        f"{sim.url}/_sim/time/advance",
        json={"seconds": 1},
        verify=str(sim.server.certificate.cert_file),
        timeout=5,
    )
    assert response.status_code == 403
