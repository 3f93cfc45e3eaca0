"""Response bodies: pre-encoded list items and the gzip cache (the 10k-guest answer path)."""

from __future__ import annotations

import gzip
import json
import os

from pvesim.bodies import EncodedList, GzipCache, encode, encode_payload
from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import limited_auth, plain_vm, prox


def test_encoded_list_payload_is_what_json_dumps_writes() -> None:
    items = EncodedList()
    items.add({"id": "qemu/100", "name": "a\u00e9", "template": 0})
    items.extend_items([{"id": "node/n1", "maxmem": 1 << 40}, {"nested": {"a": [1, None]}}])
    for payload in ({"data": items}, {"data": items, "total": 3, "success": 1}):
        assert json.loads(encode_payload(payload)) == json.loads(json.dumps(payload))
        assert encode_payload(payload) == encode(payload)
    assert encode_payload({"data": EncodedList()}) == b'{"data":[]}'


def test_gzip_cache_reuses_only_identical_bodies() -> None:
    cache = GzipCache(min_size=10)
    body = os.urandom(64).hex().encode()
    first = cache.compress("k", body)
    assert cache.compress("k", body) is first
    assert cache.hits == 1
    changed = body[:-1] + b"!"
    assert gzip.decompress(cache.compress("k", changed)) == changed
    assert cache.hits == 1
    assert gzip.decompress(cache.compress("other", changed)) == changed
    assert cache.hits == 1


def test_gzip_cache_is_bounded_and_skips_small_bodies() -> None:
    cache = GzipCache(entries=2, min_size=100)
    small = b"x" * 50
    cache.compress("s", small)
    cache.compress("s", small)
    assert cache.hits == 0
    for key in ("a", "b", "c"):
        cache.compress(key, b"y" * 200)
    cache.compress("a", b"y" * 200)  # evicted as the oldest
    assert cache.hits == 0


def _resources(sim: Sim, *, gzip_ok: bool) -> tuple[str | None, list[dict]]:
    headers = {"Accept-Encoding": "gzip" if gzip_ok else "identity"}
    response = sim.api("GET", "/cluster/resources", headers=headers)
    assert response.status_code == 200
    return response.headers.get("Content-Encoding"), response.json()["data"]


def test_resources_gzip_and_identity_agree_and_follow_changes(sim: Sim) -> None:
    sim.server.httpd.gzip_cache.min_size = 0  # the small scenario's body is below the bar
    encoding, zipped = _resources(sim, gzip_ok=True)
    assert encoding == "gzip"
    plain_encoding, plain = _resources(sim, gzip_ok=False)
    assert plain_encoding is None
    assert zipped == plain
    _resources(sim, gzip_ok=True)
    assert sim.server.httpd.gzip_cache.hits >= 1
    vm = plain_vm(sim)
    prox(sim).nodes(vm.node).qemu(vm.vmid).config.put(tags="cached-no-more")
    _, after = _resources(sim, gzip_ok=True)
    entry = next(i for i in after if i.get("vmid") == vm.vmid)
    assert entry["tags"] == "cached-no-more"


def test_resources_filtering_is_not_shared_through_the_cache(sim: Sim) -> None:
    sim.server.httpd.gzip_cache.min_size = 0
    vm = plain_vm(sim)
    auth = limited_auth(sim, "frank@pve", path=f"/vms/{vm.vmid}", roles="PVEAuditor")
    everything = sim.api("GET", "/cluster/resources", headers={"Accept-Encoding": "gzip"})
    limited = sim.api(
        "GET", "/cluster/resources", auth=auth, headers={"Accept-Encoding": "gzip"}
    ).json()["data"]
    assert len(everything.json()["data"]) > len(limited)
    assert [i["vmid"] for i in limited if "vmid" in i] == [vm.vmid]
