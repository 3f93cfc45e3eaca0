"""Testing a cluster connection before Steward stores it: what an admin sees when registering.

``cluster_test_connection`` never raises for a Proxmox failure: every failure becomes a
``ConnectionReport`` whose ``problem`` says what went wrong and what to do about it, so
the form, the API and ``manage.py cluster_add`` show the same words.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from inventory.proxmox import (
    Endpoint,
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxGateway,
    ProxmoxInvalidResponse,
    ProxmoxNotFound,
    ProxmoxPermissionDenied,
    ProxmoxTimeout,
    ProxmoxTLSError,
    ProxmoxUnreachable,
)


class Problem(StrEnum):
    """Why a connection test failed; ``MISSING_PRIVILEGES`` is the only one that may be saved."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    BAD_TOKEN = "bad_token"  # noqa: S105 - a problem code, not a secret
    FINGERPRINT_MISMATCH = "fingerprint_mismatch"
    UNTRUSTED_CERTIFICATE = "untrusted_certificate"
    NOT_PROXMOX = "not_proxmox"
    MISSING_PRIVILEGES = "missing_privileges"
    ERROR = "error"


@dataclass(frozen=True)
class RequiredPrivilege:
    """A privilege sync needs on an ACL path, and why."""

    path: str
    privilege: str
    purpose: str


# What a read-only sync token needs (the PVEAuditor role on "/" grants all of it).
SYNC_PRIVILEGES: tuple[RequiredPrivilege, ...] = (
    RequiredPrivilege("/", "Sys.Audit", "nodes, cluster status, HA resources and backup jobs"),
    RequiredPrivilege("/vms", "VM.Audit", "guests, their configs and snapshots"),
    RequiredPrivilege("/storage", "Datastore.Audit", "storage status and content (backups)"),
    RequiredPrivilege("/pool", "Pool.Audit", "pools and their members"),
    RequiredPrivilege("/access", "Sys.Audit", "ACL entries"),
)


@dataclass(frozen=True)
class NodeReport:
    name: str
    online: bool


@dataclass(frozen=True)
class PrivilegeCheck:
    required: RequiredPrivilege
    granted: bool


@dataclass(frozen=True)
class ConnectionReport:
    """The outcome of one connection test. ``reached`` means Proxmox answered to the token."""

    endpoint: str
    problem: Problem | None = None
    message: str = ""
    version: str = ""
    release: str = ""
    cluster_name: str = ""
    quorate: bool | None = None
    nodes: tuple[NodeReport, ...] = ()
    privileges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    checks: tuple[PrivilegeCheck, ...] = ()

    @property
    def reached(self) -> bool:
        return self.problem in (None, Problem.MISSING_PRIVILEGES)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def missing(self) -> tuple[RequiredPrivilege, ...]:
        return tuple(check.required for check in self.checks if not check.granted)

    def as_dict(self) -> dict:
        """Plain JSON for the API and the audit trail (never holds the secret)."""
        return {
            "endpoint": self.endpoint,
            "ok": self.ok,
            "problem": self.problem.value if self.problem else None,
            "message": self.message,
            "version": self.version,
            "release": self.release,
            "cluster_name": self.cluster_name,
            "quorate": self.quorate,
            "nodes": [{"name": n.name, "online": n.online} for n in self.nodes],
            "privileges": {path: list(privs) for path, privs in self.privileges.items()},
            "missing": [
                {"path": r.path, "privilege": r.privilege, "purpose": r.purpose}
                for r in self.missing
            ],
        }


def _failure(endpoint: Endpoint, exc: ProxmoxError) -> ConnectionReport:
    """The report for a failure before Steward could even read the version."""
    where = endpoint.key
    if isinstance(exc, ProxmoxTimeout):
        problem = Problem.TIMEOUT
        message = f"{where} did not answer within {endpoint.timeout:g} s."
    elif isinstance(exc, ProxmoxUnreachable):
        problem = Problem.UNREACHABLE
        message = (
            f"Cannot reach {where}: check the host name, the port (usually 8006) "
            "and any firewall between Steward and the cluster."
        )
    elif isinstance(exc, ProxmoxTLSError) and "fingerprint" in exc.message:
        problem = Problem.FINGERPRINT_MISMATCH
        message = (
            f"The certificate of {where} does not match the pinned fingerprint; copy the "
            "fingerprint from the node's Certificates panel (or the certificate was replaced)."
        )
    elif isinstance(exc, ProxmoxTLSError):
        problem = Problem.UNTRUSTED_CERTIFICATE
        message = (
            f"The certificate of {where} is not trusted by the CA bundle given; pin its "
            "SHA-256 fingerprint instead, or give the CA that signed it."
        )
    elif isinstance(exc, ProxmoxAuthError):
        problem = Problem.BAD_TOKEN
        message = (
            "The API token was refused: check the token id (user@realm!name) and the "
            "secret, and that the token is neither expired nor disabled."
        )
    elif isinstance(exc, ProxmoxInvalidResponse | ProxmoxNotFound):
        problem = Problem.NOT_PROXMOX
        message = f"{where} answered, but not like a Proxmox VE API: {exc.message}"
    else:
        problem = Problem.ERROR
        message = f"{where} failed the connection test: {exc}"
    return ConnectionReport(endpoint=where, problem=problem, message=message)


def cluster_test_connection(endpoint: Endpoint) -> ConnectionReport:
    """Read version, nodes and the token's effective privileges from ``endpoint``.

    Makes at most four read-only calls. A token without ``Sys.Audit`` cannot read the
    cluster status; its nodes then come from ``/cluster/resources``, which Proxmox
    filters by privilege, so the list may be empty, and the report says so.
    """
    try:
        gateway = ProxmoxGateway(endpoint)
        version = gateway.version()
        privileges = gateway.permissions()
    except ProxmoxError as exc:
        return _failure(endpoint, exc)

    cluster_name, quorate, nodes = "", None, ()
    try:
        status = gateway.cluster_status()
        for item in status:
            if item.get("type") == "cluster":
                cluster_name, quorate = str(item.get("name", "")), bool(item.get("quorate"))
        nodes = tuple(
            NodeReport(str(item.get("name", "")), bool(item.get("online")))
            for item in status
            if item.get("type") == "node"
        )
    except ProxmoxPermissionDenied:
        try:
            nodes = tuple(
                NodeReport(n.name, n.status == "online") for n in gateway.resources().nodes
            )
        except ProxmoxError as exc:
            return _failure(endpoint, exc)
    except ProxmoxError as exc:
        return _failure(endpoint, exc)

    checks = tuple(
        PrivilegeCheck(req, req.privilege in privileges.get(req.path, {}))
        for req in SYNC_PRIVILEGES
    )
    report = ConnectionReport(
        endpoint=endpoint.key,
        version=version.version,
        release=version.release,
        cluster_name=cluster_name,
        quorate=quorate,
        nodes=tuple(sorted(nodes, key=lambda n: n.name)),
        privileges={path: tuple(sorted(privs)) for path, privs in sorted(privileges.items())},
        checks=checks,
    )
    missing = report.missing
    if not missing:
        return report
    listed = ", ".join(f"{r.privilege} on {r.path} ({r.purpose})" for r in missing)
    return replace(
        report,
        problem=Problem.MISSING_PRIVILEGES,
        message=f"The token lacks privileges sync needs: {listed}. Grant the PVEAuditor "
        "role on / to the token (and to its user, when the token is privilege-separated).",
    )
