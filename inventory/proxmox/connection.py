"""How Steward reaches one cluster: endpoint settings, TLS trust and the proxmoxer client.

TLS is always verified, one of three ways, chosen per cluster by an admin: a CA
bundle (PEM text), a pinned SHA-256 certificate fingerprint (what the Proxmox GUI
shows for a self-signed node certificate), or an explicit ``insecure`` opt-out.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from proxmoxer import ProxmoxAPI
from proxmoxer.backends.https import JsonSerializer
from requests.adapters import HTTPAdapter

from inventory.proxmox.errors import ProxmoxError, ProxmoxInvalidResponse

_FINGERPRINT = re.compile(r"^(?:[0-9a-f]{2}:?){31}[0-9a-f]{2}$")
_TOKEN_ID = re.compile(r"^[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9._-]*$")


def normalise_fingerprint(value: str) -> str:
    """Return a SHA-256 fingerprint as lowercase hex without colons, or raise ``ValueError``."""
    cleaned = value.strip().lower().removeprefix("sha256:").strip()
    if not _FINGERPRINT.match(cleaned):
        raise ValueError("expected a SHA-256 fingerprint: 32 hex byte pairs, colons optional")
    return cleaned.replace(":", "")


@dataclass(frozen=True)
class Endpoint:
    """Everything needed to talk to one cluster; exactly one trust mode is set."""

    url: str
    token_id: str
    token_secret: str = field(repr=False)
    fingerprint: str = ""
    ca_bundle: str = field(default="", repr=False)
    insecure: bool = False
    timeout: float = 10.0
    max_concurrency: int = 4

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("the API URL must be https://host[:port]")
        if parts.path not in ("", "/"):
            raise ValueError("the API URL must not have a path (give https://host:8006)")
        if not _TOKEN_ID.match(self.token_id):
            raise ValueError("the token id must look like user@realm!tokenname")
        modes = [bool(self.fingerprint), bool(self.ca_bundle), self.insecure]
        if sum(modes) != 1:
            raise ValueError("choose exactly one of a fingerprint, a CA bundle or insecure")
        if self.fingerprint:
            object.__setattr__(self, "fingerprint", normalise_fingerprint(self.fingerprint))
        if self.timeout <= 0 or self.max_concurrency < 1:
            raise ValueError("timeout must be positive and max_concurrency at least 1")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 8006

    @property
    def key(self) -> str:
        """Identifies the remote API (not the credentials), for per-cluster limits and logs."""
        return f"{self.host}:{self.port}"


class _PinnedFingerprintAdapter(HTTPAdapter):
    """Trust exactly one certificate, by its SHA-256 fingerprint, whatever its issuer or name."""

    def __init__(self, fingerprint: str, **kwargs: Any) -> None:
        self._fingerprint = fingerprint
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_fingerprint"] = self._fingerprint
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The pin replaces chain and hostname checks; urllib3 still refuses a mismatch.
        super().cert_verify(conn, url, False, cert)


class _StrictJsonSerializer(JsonSerializer):
    """proxmoxer hands back ``{"errors": raw}`` for unparsable bodies; refuse them instead."""

    def loads(self, response: Any) -> Any:
        try:
            body = json.loads(response.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProxmoxInvalidResponse(
                f"the cluster sent a body that is not JSON ({len(response.content)} bytes)",
                status=response.status_code,
            ) from exc
        if not isinstance(body, dict) or "data" not in body:
            raise ProxmoxInvalidResponse(
                "the cluster sent JSON without the {'data': ...} envelope",
                status=response.status_code,
            )
        return body["data"]


def _ca_bundle_path(pem: str) -> str:
    """requests wants a file; keep one per distinct bundle, named by its content hash."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"steward-ca-{digest}.pem"
    if not path.exists():
        path.write_text(pem)
    return str(path)


def open_client(endpoint: Endpoint) -> ProxmoxAPI:
    """Build a proxmoxer client for ``endpoint`` with its trust mode, timeout and pool size."""
    user, _, token_name = endpoint.token_id.partition("!")
    if endpoint.ca_bundle:
        verify: bool | str = _ca_bundle_path(endpoint.ca_bundle)
    else:
        verify = False
    try:
        api = ProxmoxAPI(
            endpoint.host,
            port=endpoint.port,
            user=user,
            token_name=token_name,
            token_value=endpoint.token_secret,
            verify_ssl=verify,
            timeout=endpoint.timeout,
        )
    except (ValueError, NotImplementedError) as exc:
        raise ProxmoxError(f"invalid connection settings: {exc}") from exc
    # proxmoxer exposes no hook for these two; both live in the one store every
    # resource it derives shares, so setting them here covers every call.
    session = api._store["session"]
    pool = {"pool_connections": 1, "pool_maxsize": endpoint.max_concurrency}
    if endpoint.fingerprint:
        session.mount("https://", _PinnedFingerprintAdapter(endpoint.fingerprint, **pool))
    else:
        session.mount("https://", HTTPAdapter(**pool))
    api._store["serializer"] = _StrictJsonSerializer()
    return api
