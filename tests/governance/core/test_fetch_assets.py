"""tools/fetch_assets.py: pinned npm tarballs, verified by sha512, fetched once."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "fetch_assets", Path(__file__).resolve().parents[3] / "tools" / "fetch_assets.py"
)
fetch_assets = importlib.util.module_from_spec(_SPEC)
# tools/ is not a package; dataclasses need the module registered to resolve annotations.
sys.modules.setdefault("fetch_assets", fetch_assets)
_SPEC.loader.exec_module(fetch_assets)


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry():
    """A loopback 'registry' serving one tarball; records the paths requested."""
    tarball = _tarball({"package/dist/lib.min.js": b"lib()", "package/LICENSE": b"MIT"})
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            if self.path != "/@scope/lib/-/lib-1.2.3.tgz":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(tarball)))
            self.end_headers()
            self.wfile.write(tarball)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", tarball, requests
    server.shutdown()
    server.server_close()


def _asset(integrity: str, files: dict[str, str] | None = None):
    return fetch_assets.Asset(
        package="@scope/lib",
        version="1.2.3",
        integrity=integrity,
        files=files or {"package/dist/lib.min.js": "lib/lib.min.js"},
    )


def test_fetches_verifies_extracts_and_then_skips(registry, tmp_path):
    url, tarball, requests = registry
    assets = (_asset(_integrity(tarball)),)
    assert fetch_assets.fetch_all(assets, dest=tmp_path, registry=url) == ["@scope/lib@1.2.3"]
    assert (tmp_path / "lib" / "lib.min.js").read_bytes() == b"lib()"
    # Only the listed files are written.
    assert not (tmp_path / "lib" / "LICENSE").exists()
    assert fetch_assets.fetch_all(assets, dest=tmp_path, registry=url) == []
    assert len(requests) == 1


def test_a_missing_file_is_fetched_again(registry, tmp_path):
    url, tarball, requests = registry
    assets = (_asset(_integrity(tarball)),)
    fetch_assets.fetch_all(assets, dest=tmp_path, registry=url)
    (tmp_path / "lib" / "lib.min.js").unlink()
    assert fetch_assets.fetch_all(assets, dest=tmp_path, registry=url) == ["@scope/lib@1.2.3"]
    assert len(requests) == 2


def test_integrity_mismatch_writes_nothing(registry, tmp_path):
    url, _, _ = registry
    assets = (_asset(_integrity(b"something else")),)
    with pytest.raises(fetch_assets.FetchError, match="integrity mismatch"):
        fetch_assets.fetch_all(assets, dest=tmp_path, registry=url)
    assert not (tmp_path / "lib").exists()


def test_targets_outside_dest_are_refused(registry, tmp_path):
    url, tarball, _ = registry
    assets = (_asset(_integrity(tarball), {"package/LICENSE": "../escape.txt"}),)
    with pytest.raises(fetch_assets.FetchError, match="bad target path"):
        fetch_assets.fetch_all(assets, dest=tmp_path / "vendor", registry=url)
    assert not (tmp_path / "escape.txt").exists()


def test_cli_reports_failure_in_one_line(registry, tmp_path, capsys, monkeypatch):
    url, _, _ = registry
    monkeypatch.setattr(fetch_assets, "ASSETS", (_asset(_integrity(b"x")),))
    assert fetch_assets.main(["--dest", str(tmp_path), "--registry", url]) == 1
    assert capsys.readouterr().err.startswith("fetch_assets: integrity mismatch")


def test_pinned_assets_use_sha512_and_scoped_urls():
    for asset in fetch_assets.ASSETS:
        assert asset.integrity.startswith("sha512-")
    assert _asset("sha512-x").tarball_url("https://r.example/") == (
        "https://r.example/@scope/lib/-/lib-1.2.3.tgz"
    )
