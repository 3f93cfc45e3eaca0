"""The one door to Proxmox VE: typed calls, timeouts, bounded concurrency, translated errors.

Everything in Steward that talks to a cluster goes through ``ProxmoxGateway``; it is
the only code that touches proxmoxer. Calls never block on a running task: callers
start a task, keep its UPID and ask ``task_status`` again later (from a re-scheduled
Celery task), so a worker is never parked on a sleep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from proxmoxer import AuthenticationError, ResourceException

from inventory.proxmox import errors
from inventory.proxmox.agent import AgentReads
from inventory.proxmox.appliances import ApplianceReads
from inventory.proxmox.cluster_writes import ClusterWrites
from inventory.proxmox.clusterconf import Acl, BackupJob, HAGroup, HAResource, HARule
from inventory.proxmox.connection import Endpoint, open_client
from inventory.proxmox.guest_writes import GuestWrites
from inventory.proxmox.provisioning import ProvisioningWrites
from inventory.proxmox.types import (
    GUEST_TYPES,
    GuestConfig,
    GuestStatus,
    PendingChange,
    Resources,
    Snapshot,
    Task,
    Upid,
    Version,
    Volume,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# PVE's API daemon runs few workers, so each process bounds its calls per cluster.
_limits: dict[str, threading.BoundedSemaphore] = {}
_limits_lock = threading.Lock()


def _limit_for(endpoint: Endpoint) -> threading.BoundedSemaphore:
    with _limits_lock:
        if endpoint.key not in _limits:
            _limits[endpoint.key] = threading.BoundedSemaphore(endpoint.max_concurrency)
        return _limits[endpoint.key]


def _message(exc: ResourceException) -> str:
    # PVE puts the message in the HTTP reason phrase; proxmoxer keeps it in .content.
    return (str(exc.content or "").strip() or exc.status_message or "").rstrip(".") + "."


def _errors_of(exc: ResourceException) -> dict[str, str]:
    found = exc.errors if isinstance(exc.errors, dict) else {}
    return {str(k): str(v).strip() for k, v in found.items()}


def translate(exc: BaseException, *, method: str, path: str) -> errors.ProxmoxError:
    """Map a transport or API exception to Steward's Proxmox exception family."""
    where = {"method": method, "path": path}
    if isinstance(exc, errors.ProxmoxError):
        exc.method, exc.path = exc.method or method, exc.path or path
        return exc
    if isinstance(exc, ResourceException):
        status, message = exc.status_code, _message(exc)
        kw = {"status": status, "errors": _errors_of(exc), **where}
        if status == 401:
            return errors.ProxmoxAuthError(
                "the API token was refused (unknown, wrong secret, expired or disabled).", **kw
            )
        if status == 403 or message.startswith("only root can"):
            # PVE answers root@pam-only keys (real USB/PCI/serial devices) with a 500;
            # no token, not even root@pam's, may change them.
            return errors.ProxmoxPermissionDenied(message, **kw)
        if status == 400:
            return errors.ProxmoxInvalidParameters(message, **kw)
        if "is locked" in message:
            return errors.ProxmoxLocked(message, **kw)
        if "checksum mismatch" in message or "detected modified configuration" in message:
            return errors.ProxmoxDigestMismatch(message, **kw)
        if status == 404 or "does not exist" in message or "no such" in message:
            return errors.ProxmoxNotFound(message, **kw)
        return errors.ProxmoxServerError(message, **kw)
    if isinstance(exc, AuthenticationError):
        return errors.ProxmoxAuthError(str(exc), **where)
    if isinstance(exc, requests.exceptions.SSLError):
        text = str(exc)
        if "ingerprint" in text:
            return errors.ProxmoxTLSError(
                "the certificate does not match the pinned fingerprint.", **where
            )
        return errors.ProxmoxTLSError(f"the certificate is not trusted: {text[:300]}", **where)
    if isinstance(exc, requests.exceptions.Timeout):
        return errors.ProxmoxTimeout("the cluster did not answer in time.", **where)
    if isinstance(exc, requests.exceptions.RequestException):
        return errors.ProxmoxUnreachable(f"the cluster is unreachable: {exc}", **where)
    if isinstance(exc, ValueError):
        return errors.ProxmoxInvalidResponse(f"unexpected answer: {exc}", **where)
    raise exc


class ProxmoxGateway(GuestWrites, ClusterWrites, ProvisioningWrites, ApplianceReads, AgentReads):
    """Typed access to one cluster through its API token; safe to share between threads.

    Reads live here; writes come from :class:`GuestWrites`, :class:`ClusterWrites` and
    :class:`ProvisioningWrites`.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._api = open_client(endpoint)
        self._limit = _limit_for(endpoint)
        #: Calls made by this gateway, per "METHOD path-template"; sync reports it.
        self.calls: dict[str, int] = {}
        self._calls_lock = threading.Lock()

    def _call(self, method: str, path: str, template: str = "", /, **params: Any) -> Any:
        counter = f"{method} {template or path}"
        with self._calls_lock:  # sync reads guests from a thread pool
            self.calls[counter] = self.calls.get(counter, 0) + 1
        started = time.monotonic()
        resource = self._api(path.strip("/"))
        try:
            with self._limit:
                data = getattr(resource, method.lower())(**params)
        except Exception as exc:
            error = translate(exc, method=method, path=path)
            logger.info(
                "proxmox %s %s %s failed in %.0f ms: %s",
                self.endpoint.key,
                method,
                path,
                (time.monotonic() - started) * 1000,
                error,
            )
            raise error from exc
        logger.debug(
            "proxmox %s %s %s in %.0f ms",
            self.endpoint.key,
            method,
            path,
            (time.monotonic() - started) * 1000,
        )
        return data

    def _typed(self, parse: Callable[[Any], T], data: Any, *, method: str, path: str) -> T:
        try:
            return parse(data)
        except errors.ProxmoxError as exc:
            raise translate(exc, method=method, path=path) from None
        except (TypeError, AttributeError, KeyError) as exc:
            raise errors.ProxmoxInvalidResponse(
                f"unexpected answer shape: {exc}", method=method, path=path
            ) from exc

    def _list(
        self, path: str, parse: Callable[[Any], T], template: str = "", **params: Any
    ) -> list[T]:
        data = self._call("GET", path, template, **params)
        if not isinstance(data, list):
            raise errors.ProxmoxInvalidResponse("expected a list", method="GET", path=path)
        return [self._typed(parse, item, method="GET", path=path) for item in data]

    # Reads -----------------------------------------------------------------

    def version(self) -> Version:
        return self._typed(
            Version.from_api, self._call("GET", "/version"), method="GET", path="/version"
        )

    def cluster_status(self) -> list[dict[str, Any]]:
        """Cluster and node entries of ``/cluster/status`` (quorum, node online flags)."""
        data = self._call("GET", "/cluster/status")
        if not isinstance(data, list):
            raise errors.ProxmoxInvalidResponse(
                "expected a list", method="GET", path="/cluster/status"
            )
        return data

    def permissions(self) -> dict[str, dict[str, bool]]:
        """The token's effective privileges per ACL path (``GET /access/permissions``)."""
        data = self._call("GET", "/access/permissions")
        if not isinstance(data, dict):
            raise errors.ProxmoxInvalidResponse(
                "expected an object", method="GET", path="/access/permissions"
            )
        return {
            str(path): {str(p): bool(v) for p, v in (privs or {}).items()}
            for path, privs in data.items()
        }

    def resources(self) -> Resources:
        path = "/cluster/resources"
        return self._typed(Resources.from_api, self._call("GET", path), method="GET", path=path)

    def tasks(self) -> list[Task]:
        """The cluster's recent task history (``/cluster/tasks``), newest first as PVE sends it."""
        return self._list("/cluster/tasks", Task.from_api)

    def guest_config(
        self, *, node: str, kind: str, vmid: int, current: bool = False
    ) -> GuestConfig:
        """A guest's config; PVE shows pending changes as applied unless ``current``."""
        self._check_kind(kind)
        path = f"/nodes/{node}/{kind}/{vmid}/config"
        template = f"/nodes/{{node}}/{kind}/{{vmid}}/config"
        data = self._call("GET", path, template, **({"current": 1} if current else {}))
        return self._typed(GuestConfig.from_api, data, method="GET", path=path)

    def guest_pending(self, *, node: str, kind: str, vmid: int) -> dict[str, str | None]:
        """Changes waiting for the guest's next cold start: key -> new value, or None for
        a pending removal (``GET .../pending``); empty when everything is applied."""
        self._check_kind(kind)
        path = f"/nodes/{node}/{kind}/{vmid}/pending"
        items = self._list(path, PendingChange.from_api, f"/nodes/{{node}}/{kind}/{{vmid}}/pending")
        return {i.key: i.value for i in items if i.pending}

    def guest_status(self, *, node: str, kind: str, vmid: int) -> GuestStatus:
        """``status/current`` of one guest on ``node``: the cheapest read that tells whether
        it exists there (``ProxmoxNotFound``) or the token may not see it (403)."""
        self._check_kind(kind)
        path = f"/nodes/{node}/{kind}/{vmid}/status/current"
        data = self._call("GET", path, f"/nodes/{{node}}/{kind}/{{vmid}}/status/current")
        return self._typed(GuestStatus.from_api, data, method="GET", path=path)

    def snapshots(self, *, node: str, kind: str, vmid: int) -> list[Snapshot]:
        self._check_kind(kind)
        path = f"/nodes/{node}/{kind}/{vmid}/snapshot"
        items = self._list(path, Snapshot.from_api, f"/nodes/{{node}}/{kind}/{{vmid}}/snapshot")
        return [s for s in items if s.name != "current"]

    def storage_content(self, *, node: str, storage: str) -> list[Volume]:
        path = f"/nodes/{node}/storage/{storage}/content"
        return self._list(path, Volume.from_api, "/nodes/{node}/storage/{storage}/content")

    def backup_jobs(self) -> list[BackupJob]:
        return self._list("/cluster/backup", BackupJob.from_api)

    def ha_resources(self) -> list[HAResource]:
        return self._list("/cluster/ha/resources", HAResource.from_api)

    def ha_rules(self) -> list[HARule]:
        """HA rules (PVE 9); PVE 8 has no such path and answers 501."""
        return self._list("/cluster/ha/rules", HARule.from_api)

    def ha_groups(self) -> list[HAGroup]:
        """HA groups (PVE 8); PVE 9 refuses with 500 once they were migrated to rules."""
        return self._list("/cluster/ha/groups", HAGroup.from_api)

    def acl(self) -> list[Acl]:
        """ACL entries the token may see (all of them with Sys.Audit on /access)."""
        return self._list("/access/acl", Acl.from_api)

    def task_status(self, upid: str) -> Task:
        node = Upid.parse(upid).node
        path = f"/nodes/{node}/tasks/{upid}/status"
        data = self._call("GET", path, "/nodes/{node}/tasks/{upid}/status")
        return self._typed(Task.from_api, data, method="GET", path=path)

    def task_log(self, upid: str, *, start: int = 0, limit: int = 500) -> list[str]:
        node = Upid.parse(upid).node
        path = f"/nodes/{node}/tasks/{upid}/log"
        data = self._call("GET", path, "/nodes/{node}/tasks/{upid}/log", start=start, limit=limit)
        if not isinstance(data, list):
            raise errors.ProxmoxInvalidResponse("expected a list", method="GET", path=path)
        return [str(line.get("t", "")) for line in data if isinstance(line, dict)]

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in GUEST_TYPES:
            raise ValueError(f"guest kind must be one of {GUEST_TYPES}, not {kind!r}")
