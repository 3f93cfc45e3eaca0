#!/usr/bin/env python3
"""Fetch pinned third-party front-end assets from the npm registry into static/vendor/.

Steward never loads code from a CDN and never commits vendored files: each asset is
an npm tarball pinned by version and by its registry ``sha512`` integrity, downloaded
at install time, verified, and only the files the pages use are extracted. Standard
library only, so it runs before the virtualenv has anything installed.

Idempotent: a manifest in the target directory records what was extracted from which
integrity; when it matches and every file is present nothing is downloaded.

Usage: python tools/fetch_assets.py [--dest static/vendor] [--registry URL] [--force]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / "static" / "vendor"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
MANIFEST = ".assets.json"
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Asset:
    """One npm package version; ``files`` maps a path inside the tarball to one under dest."""

    package: str
    version: str
    integrity: str
    files: dict[str, str]

    def tarball_url(self, registry: str) -> str:
        # Scoped names keep the scope in the path but not in the file name.
        basename = self.package.rsplit("/", 1)[-1]
        return f"{registry.rstrip('/')}/{self.package}/-/{basename}-{self.version}.tgz"


# To upgrade: `npm view <pkg>@<ver> dist.integrity`, then update version and integrity.
ASSETS: tuple[Asset, ...] = (
    Asset(
        package="htmx.org",
        version="2.0.11",
        integrity="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        files={
            "package/dist/htmx.min.js": "htmx/htmx.min.js",
            "package/LICENSE": "htmx/LICENSE",
        },
    ),
)


class FetchError(Exception):
    """A download, integrity or extraction failure; the message is for the operator."""


def verify_integrity(data: bytes, integrity: str) -> None:
    """Raise unless ``data`` matches a Subresource-Integrity style ``sha512-<base64>``."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512" or not expected:
        raise FetchError(f"unsupported integrity {integrity!r}: only sha512 is accepted")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual != expected:
        raise FetchError(f"integrity mismatch: expected sha512-{expected}, got sha512-{actual}")


def download(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise FetchError(f"refusing non-HTTP URL {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "steward-fetch-assets"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.read()
    except OSError as exc:
        raise FetchError(f"cannot download {url}: {exc}") from exc


def extract(asset: Asset, tarball: bytes, dest: Path) -> None:
    """Write the asset's selected members under ``dest``; members are read, never extracted
    by path, so a hostile tarball cannot write outside ``dest``."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member_name, target in asset.files.items():
            relative = PurePosixPath(target)
            if relative.is_absolute() or ".." in relative.parts:
                raise FetchError(f"{asset.package}: bad target path {target!r}")
            try:
                member = archive.getmember(member_name)
            except KeyError:
                raise FetchError(f"{asset.package}@{asset.version}: no {member_name}") from None
            source = archive.extractfile(member)
            if source is None:
                raise FetchError(f"{asset.package}: {member_name} is not a regular file")
            _atomic_write(dest / relative, source.read())


def _atomic_write(path: Path, data: bytes) -> None:
    # A crash mid-write must not leave a truncated script that the manifest vouches for.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp creates 0600; static files must be readable by the web server's user.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_manifest(dest: Path) -> dict[str, str]:
    try:
        return json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def _is_current(asset: Asset, dest: Path, manifest: dict[str, str]) -> bool:
    return manifest.get(asset.package) == asset.integrity and all(
        (dest / target).is_file() for target in asset.files.values()
    )


def fetch_all(
    assets: tuple[Asset, ...], *, dest: Path, registry: str, force: bool = False
) -> list[str]:
    """Bring ``dest`` up to date with ``assets``; return the packages actually fetched."""
    dest.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(dest)
    fetched = []
    for asset in assets:
        if not force and _is_current(asset, dest, manifest):
            continue
        tarball = download(asset.tarball_url(registry))
        verify_integrity(tarball, asset.integrity)
        extract(asset, tarball, dest)
        manifest[asset.package] = asset.integrity
        _atomic_write(dest / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        fetched.append(f"{asset.package}@{asset.version}")
    return fetched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--registry", default=os.environ.get("NPM_REGISTRY_URL", DEFAULT_REGISTRY))
    parser.add_argument("--force", action="store_true", help="download even if up to date")
    args = parser.parse_args(argv)
    try:
        fetched = fetch_all(ASSETS, dest=args.dest, registry=args.registry, force=args.force)
    except FetchError as exc:
        sys.stderr.write(f"fetch_assets: {exc}\n")
        return 1
    summary = ", ".join(fetched) if fetched else "already up to date"
    sys.stdout.write(f"fetch_assets: {summary} ({args.dest})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
