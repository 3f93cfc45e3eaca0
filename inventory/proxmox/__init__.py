"""The Proxmox gateway: the only package that imports proxmoxer."""

from inventory.proxmox.connection import Endpoint, normalise_fingerprint
from inventory.proxmox.errors import (
    ProxmoxAuthError,
    ProxmoxDigestMismatch,
    ProxmoxError,
    ProxmoxInvalidParameters,
    ProxmoxInvalidResponse,
    ProxmoxLocked,
    ProxmoxNotFound,
    ProxmoxPermissionDenied,
    ProxmoxServerError,
    ProxmoxTaskFailed,
    ProxmoxTimeout,
    ProxmoxTLSError,
    ProxmoxUnreachable,
)
from inventory.proxmox.gateway import ProxmoxGateway

__all__ = [
    "Endpoint",
    "ProxmoxAuthError",
    "ProxmoxDigestMismatch",
    "ProxmoxError",
    "ProxmoxGateway",
    "ProxmoxInvalidParameters",
    "ProxmoxInvalidResponse",
    "ProxmoxLocked",
    "ProxmoxNotFound",
    "ProxmoxPermissionDenied",
    "ProxmoxServerError",
    "ProxmoxTLSError",
    "ProxmoxTaskFailed",
    "ProxmoxTimeout",
    "ProxmoxUnreachable",
    "normalise_fingerprint",
]
