"""The connection test against simulated clusters over real HTTPS: one case per failure."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from inventory.services.connection import Problem, cluster_test_connection
from pvesim.tls import make_certificate


def test_a_healthy_cluster_reports_version_nodes_and_privileges(sim, endpoint_for):
    report = cluster_test_connection(endpoint_for(sim))

    assert report.ok
    assert report.problem is None
    assert report.version.startswith("9.")
    assert report.cluster_name == sim.name
    assert report.quorate is True
    assert len(report.nodes) == len(sim.cluster.estate.nodes)
    assert all(node.online for node in report.nodes)
    assert "VM.Audit" in report.privileges["/vms"]
    assert report.missing == ()


def test_pve8_profile_reports_its_version(make_sim, endpoint_for):
    report = cluster_test_connection(endpoint_for(make_sim(pve="8")))
    assert report.ok
    assert report.version.startswith("8.")


def test_wrong_secret_is_a_bad_token(sim, endpoint_for):
    report = cluster_test_connection(endpoint_for(sim, token_secret="not-the-secret"))
    assert report.problem is Problem.BAD_TOKEN
    assert "token was refused" in report.message
    assert not report.reached


def test_other_fingerprint_is_a_mismatch(sim, endpoint_for):
    report = cluster_test_connection(endpoint_for(sim, fingerprint="ab" * 32))
    assert report.problem is Problem.FINGERPRINT_MISMATCH
    assert "does not match the pinned fingerprint" in report.message


def test_ca_that_did_not_sign_the_certificate_is_untrusted(sim, endpoint_for, tmp_path):
    other_ca = make_certificate(tmp_path).cert_file.read_text()
    report = cluster_test_connection(endpoint_for(sim, fingerprint="", ca_bundle=other_ca))
    assert report.problem is Problem.UNTRUSTED_CERTIFICATE
    assert "not trusted" in report.message


def test_the_right_ca_bundle_is_trusted(sim, endpoint_for):
    ca = sim.cert_file.read_text()
    report = cluster_test_connection(endpoint_for(sim, fingerprint="", ca_bundle=ca))
    assert report.ok, report.message


def test_closed_port_is_unreachable(sim, endpoint_for):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    report = cluster_test_connection(endpoint_for(sim, url=f"https://127.0.0.1:{port}"))
    assert report.problem is Problem.UNREACHABLE
    assert f"127.0.0.1:{port}" in report.message


def test_slow_cluster_times_out(sim, endpoint_for):
    sim.control("POST", "latency", seconds=1.5)
    report = cluster_test_connection(endpoint_for(sim, timeout=0.3))
    sim.control("POST", "latency", seconds=0)
    assert report.problem is Problem.TIMEOUT
    assert "did not answer within 0.3 s" in report.message


def test_token_without_acl_reaches_the_cluster_but_misses_every_privilege(sim, endpoint_for):
    sim.revoke_token_rights()
    report = cluster_test_connection(endpoint_for(sim))

    assert report.problem is Problem.MISSING_PRIVILEGES
    assert report.reached
    assert report.version  # reached: the version is still shown
    assert {(r.path, r.privilege) for r in report.missing} >= {
        ("/", "Sys.Audit"),
        ("/vms", "VM.Audit"),
        ("/storage", "Datastore.Audit"),
        ("/pool", "Pool.Audit"),
    }
    assert "PVEAuditor" in report.message


def test_rights_on_vms_only_leave_the_rest_missing(sim, endpoint_for):
    sim.revoke_token_rights()
    sim.control("POST", "acl/add", path="/vms", roles="PVEAuditor", tokens=sim.token_id)
    report = cluster_test_connection(endpoint_for(sim))

    missing = {(r.path, r.privilege) for r in report.missing}
    assert ("/vms", "VM.Audit") not in missing
    assert ("/", "Sys.Audit") in missing
    assert ("/storage", "Datastore.Audit") in missing
    # Without Sys.Audit the cluster status is refused; the report still comes back.
    assert report.quorate is None


@pytest.fixture
def html_server(sim) -> Iterator[str]:
    """An HTTPS server with the sim's certificate that answers every request with HTML."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>It works!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate = sim.server.certificate
    context.load_cert_chain(certificate.cert_file, certificate.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_web_server_that_is_not_proxmox_says_so(sim, endpoint_for, html_server):
    report = cluster_test_connection(endpoint_for(sim, url=html_server))
    assert report.problem is Problem.NOT_PROXMOX
    assert "not like a Proxmox VE API" in report.message


def test_report_as_dict_never_holds_the_secret(sim, endpoint_for):
    report = cluster_test_connection(endpoint_for(sim))
    assert sim.token_secret not in repr(report.as_dict())
    assert report.as_dict()["ok"] is True
