"""The small exception family every Proxmox failure is translated into.

Callers never see proxmoxer, requests or urllib3 exceptions: they see one of these,
each with a message a person can act on and, where known, the HTTP status and the
per-parameter errors Proxmox returned.
"""

from __future__ import annotations


class ProxmoxError(Exception):
    """Base of every failure talking to a Proxmox VE cluster."""

    #: Whether retrying the same call later may succeed (network, overload, 5xx).
    transient = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.errors = errors or {}

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.path else ""
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
        return f"{self.message}{where}" + (f" [{detail}]" if detail else "")


class ProxmoxUnreachable(ProxmoxError):
    """The cluster could not be reached: refused, unresolvable, reset."""

    transient = True


class ProxmoxTimeout(ProxmoxUnreachable):
    """No answer within the configured timeout."""


class ProxmoxTLSError(ProxmoxError):
    """The server's certificate is not trusted or does not match the pinned fingerprint."""


class ProxmoxAuthError(ProxmoxError):
    """The API token was refused (unknown, wrong secret, expired or disabled): HTTP 401."""


class ProxmoxPermissionDenied(ProxmoxError):
    """The token lacks a privilege for the path: HTTP 403."""


class ProxmoxNotFound(ProxmoxError):
    """The object does not exist (or is not on the node asked)."""


class ProxmoxInvalidParameters(ProxmoxError):
    """Proxmox refused the parameters (HTTP 400, ``Parameter verification failed.``)."""


class ProxmoxLocked(ProxmoxError):
    """The guest is locked by another operation (``VM is locked (...)``)."""

    transient = True


class ProxmoxDigestMismatch(ProxmoxError):
    """The object changed since its digest was read (``checksum mismatch`` / ``detected
    modified configuration``): re-read, decide again, retry."""

    transient = True


class ProxmoxServerError(ProxmoxError):
    """Proxmox failed handling the request (HTTP 5xx)."""

    transient = True


class ProxmoxInvalidResponse(ProxmoxError):
    """The answer was not what the API promises: broken JSON or an unexpected shape."""

    transient = True


class ProxmoxTaskFailed(ProxmoxError):
    """A Proxmox task ended with an exit status other than ``OK``."""
