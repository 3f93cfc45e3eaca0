"""Bad input never crashes the server: random paths, parameters and bodies get PVE-shaped
4xx/5xx answers, and no handler raises an unexpected exception."""

from __future__ import annotations

import http.client
import json
import logging
import random
import ssl
import time
from urllib.parse import quote, urlencode

import pytest

from pvesim.spec import all_methods
from tests.pvesim.conftest import Sim

WEIRD = [
    "",
    "0",
    "-1",
    "1e99",
    "abc",
    "%00",
    "../..",
    "x" * 300,
    "true",
    "1,2;3",
    "\u00e9\u4e2d",
    "null",
    "{",
    "a=b,c",
]
REQUESTS = 400
BUDGET_SECONDS = 20.0
"""Wall-clock cap: on a loaded machine the test sends fewer requests rather than overrun."""
MIN_REQUESTS = 100


def _path(rng: random.Random, template: str, sim: Sim) -> str:
    guests = list(sim.cluster.estate.guests.values())
    guest = rng.choice(guests)
    values = {
        "node": rng.choice([guest.node, "nonode", rng.choice(WEIRD)]),
        "vmid": rng.choice([str(guest.vmid), "99", "abc", "100000"]),
    }
    parts = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{"):
            segment = values.get(segment[1:-1], rng.choice(WEIRD) or "x")
        parts.append(quote(segment, safe=""))
    if rng.random() < 0.1:
        parts.append(rng.choice(["bogus", "..", "%2F"]))
    return "/api2/json/" + "/".join(parts)


def _params(rng: random.Random, method_params: list[str]) -> dict[str, str]:
    names = [*method_params, "zz", "delete", "digest", "vmid", "node"]
    return {rng.choice(names): rng.choice(WEIRD) for _ in range(rng.randint(0, 4))}


def _check_answer(response: http.client.HTTPResponse, body: bytes) -> None:
    assert 200 <= response.status < 600
    assert response.reason
    if response.status == 200:
        assert "data" in json.loads(body)
        return
    assert response.status >= 400, response.status
    if body:
        payload = json.loads(body)
        assert payload["data"] is None
        assert payload["message"].rstrip("\n").startswith(response.reason.rstrip())


@pytest.mark.slow
def test_random_requests_get_pve_shaped_errors(sim: Sim, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(20260503)
    methods = list(all_methods().values())
    tls = ssl.create_default_context(cafile=str(sim.server.certificate.cert_file))
    auth = {"Authorization": f"PVEAPIToken={sim.token_id}={sim.token_secret}"}
    connection = http.client.HTTPSConnection(sim.host, sim.port, context=tls, timeout=10)
    caplog.set_level(logging.ERROR, logger="pvesim")
    deadline = time.monotonic() + BUDGET_SECONDS
    sent = 0
    while sent < REQUESTS and time.monotonic() < deadline:
        sent += 1
        spec = rng.choice(methods)
        verb = spec.method if rng.random() < 0.85 else rng.choice(["GET", "POST", "PUT", "DELETE"])
        path = _path(rng, spec.path, sim)
        params = _params(rng, list(spec.params))
        headers = dict(auth) if rng.random() < 0.9 else {}
        body = b""
        if verb in ("POST", "PUT"):
            kind = rng.random()
            if kind < 0.6:
                body = urlencode(params).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            elif kind < 0.8:
                body = json.dumps(
                    {k: rng.choice([v, 1, True, None, [1], {}]) for k, v in params.items()}
                ).encode()
                headers["Content-Type"] = "application/json"
            else:
                body = rng.choice([b"{not json", b"\xff\xfe", b"[1,2]", b"a=%zz"])
                headers["Content-Type"] = rng.choice(["application/json", "text/plain"])
        elif params:
            path += "?" + urlencode(params)
        connection.request(verb, path, body=body or None, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        _check_answer(response, answer)
        if response.getheader("Connection") == "close":
            connection.close()
            connection = http.client.HTTPSConnection(sim.host, sim.port, context=tls, timeout=10)
    connection.close()
    assert sent >= MIN_REQUESTS, f"only {sent} requests within {BUDGET_SECONDS} s"
    crashes = [r.getMessage() for r in caplog.records if "unhandled error" in r.getMessage()]
    assert not crashes, crashes[:5]
    assert sim.api("GET", "/version").status_code == 200


def test_oversized_and_garbage_bodies(sim: Sim) -> None:
    tls = ssl.create_default_context(cafile=str(sim.server.certificate.cert_file))
    connection = http.client.HTTPSConnection(sim.host, sim.port, context=tls, timeout=10)
    auth = {"Authorization": f"PVEAPIToken={sim.token_id}={sim.token_secret}"}
    connection.request("POST", "/api2/json/pools", body=b"a" * (600 * 1024), headers=auth)
    response = connection.getresponse()
    response.read()
    assert (response.status, response.reason) == (501, "for data too large")
    connection.close()
    raw = ssl.create_default_context(cafile=str(sim.server.certificate.cert_file))
    with raw.wrap_socket(
        __import__("socket").create_connection((sim.host, sim.port)), server_hostname="localhost"
    ) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.")
    assert sim.api("GET", "/version").status_code == 200
