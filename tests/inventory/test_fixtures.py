"""The shared simulated-cluster fixtures work: HTTPS with a pinned fingerprint, control API."""

import pytest

from inventory.proxmox import ProxmoxGateway, ProxmoxTLSError


def test_two_clusters_served_with_pinned_fingerprint(make_sim, endpoint_for):
    first, second = make_sim(pve="9"), make_sim(pve="8", seed=2)
    assert (first.name, second.name) == ("pve-alpha", "pve-bravo")
    assert ProxmoxGateway(endpoint_for(first)).version().major == 9
    gateway = ProxmoxGateway(endpoint_for(second))
    assert gateway.version().major == 8
    assert len(gateway.resources().guests) == 30


def test_wrong_pin_is_refused(sim, endpoint_for):
    gateway = ProxmoxGateway(endpoint_for(sim, fingerprint="ab" * 32))
    with pytest.raises(ProxmoxTLSError, match="fingerprint"):
        gateway.version()


def test_clock_is_frozen_until_advanced(sim):
    before = sim.control("GET", "state")["now"]
    assert sim.control("GET", "state")["now"] == before
    assert sim.advance(90) == before + 90


def test_auditor_token_loses_rights(sim, endpoint_for):
    gateway = ProxmoxGateway(endpoint_for(sim))
    assert gateway.resources().guests
    sim.revoke_token_rights()
    assert gateway.resources().guests == ()
