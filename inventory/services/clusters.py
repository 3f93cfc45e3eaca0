"""Registering and changing clusters, and classifying their storage.

Callers (views, API, commands) check that the actor may act (admins: ``add_cluster``,
``change_cluster``, ``change_storage``); services keep the data consistent. Each command
has one shape: test the connection first (outside the transaction: it is network I/O),
then lock, change, audit in the same transaction, and queue side effects on commit.
The token secret never reaches the audit trail, a log line or an error message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance.audit.services import audit_record
from inventory.models import Cluster, Storage, StorageClass
from inventory.proxmox import Endpoint
from inventory.services.connection import ConnectionReport, cluster_test_connection

logger = logging.getLogger(__name__)


class ClusterConnectionFailed(Exception):
    """The connection test failed in a way that forbids saving; ``report`` says why."""

    def __init__(self, report: ConnectionReport) -> None:
        super().__init__(report.message)
        self.report = report


@dataclass(frozen=True)
class Registration:
    """A saved cluster and the connection report it was saved with."""

    cluster: Cluster
    report: ConnectionReport

    @property
    def warnings(self) -> list[str]:
        return [self.report.message] if self.report.problem else []


def cluster_endpoint(cluster: Cluster) -> Endpoint:
    """The gateway settings of a stored cluster."""
    return Endpoint(
        url=cluster.api_url,
        token_id=cluster.token_id,
        token_secret=cluster.token_secret,
        fingerprint=cluster.fingerprint,
        ca_bundle=cluster.ca_bundle,
        insecure=cluster.insecure,
    )


def _endpoint(**settings: Any) -> Endpoint:
    try:
        return Endpoint(**settings)
    except ValueError as exc:
        message = str(exc)
        field = "url" if "URL" in message else "token_id" if "token id" in message else None
        raise ValidationError({field: message} if field else message) from exc


def _state(cluster: Cluster) -> dict[str, Any]:
    """What the audit trail records of a cluster: everything but the secret."""
    return {
        "name": cluster.name,
        "api_url": cluster.api_url,
        "token_id": cluster.token_id,
        "trust": "fingerprint"
        if cluster.fingerprint
        else "ca_bundle"
        if cluster.ca_bundle
        else "insecure",
        "fingerprint": cluster.fingerprint,
        "enabled": cluster.enabled,
        "pve_version": cluster.pve_version,
    }


def _queue_sync(cluster_id: int) -> None:
    from inventory.sync.tasks import sync_cluster

    sync_cluster.delay(cluster_id)


def cluster_register(
    *,
    actor: Any,
    name: str,
    url: str,
    token_id: str,
    token_secret: str,
    fingerprint: str = "",
    ca_bundle: str = "",
    insecure: bool = False,
) -> Registration:
    """Test the connection, then save the cluster and queue its first sync on commit.

    Raises ``ValidationError`` for bad settings or a taken name, and
    ``ClusterConnectionFailed`` when the cluster cannot be used at all. A token that
    reaches the cluster but lacks some privileges is saved, with the report's warning:
    an admin may grant them later, and sync reports what it could not read.
    """
    endpoint = _endpoint(
        url=url,
        token_id=token_id,
        token_secret=token_secret,
        fingerprint=fingerprint,
        ca_bundle=ca_bundle,
        insecure=insecure,
    )
    if Cluster.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A cluster named {name!r} is registered already."})
    report = cluster_test_connection(endpoint)
    if not report.reached:
        raise ClusterConnectionFailed(report)
    cluster = Cluster(
        name=name,
        api_url=endpoint.url,
        token_id=endpoint.token_id,
        token_secret=token_secret,
        fingerprint=endpoint.fingerprint,
        ca_bundle=endpoint.ca_bundle,
        insecure=endpoint.insecure,
        pve_version=report.version,
    )
    cluster.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            cluster.save()
            audit_record(
                actor=actor,
                action="inventory.cluster.register",
                target=cluster,
                after={**_state(cluster), "missing_privileges": report.as_dict()["missing"]},
            )
            transaction.on_commit(lambda: _queue_sync(cluster.pk))
    except IntegrityError as exc:  # a concurrent registration took the name
        raise ValidationError({"name": f"A cluster named {name!r} is registered already."}) from exc
    return Registration(cluster=cluster, report=report)


def cluster_update(
    *,
    actor: Any,
    cluster: Cluster,
    url: str,
    token_id: str,
    token_secret: str = "",
    fingerprint: str = "",
    ca_bundle: str = "",
    insecure: bool = False,
) -> Registration:
    """Change how Steward reaches ``cluster``; an empty ``token_secret`` keeps the stored one.

    The new settings are tested like a registration and refused on the same failures.
    """
    endpoint = _endpoint(
        url=url,
        token_id=token_id,
        token_secret=token_secret or cluster.token_secret,
        fingerprint=fingerprint,
        ca_bundle=ca_bundle,
        insecure=insecure,
    )
    report = cluster_test_connection(endpoint)
    if not report.reached:
        raise ClusterConnectionFailed(report)
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        before = _state(locked)
        locked.api_url, locked.token_id = endpoint.url, endpoint.token_id
        locked.fingerprint, locked.ca_bundle = endpoint.fingerprint, endpoint.ca_bundle
        locked.insecure, locked.pve_version = endpoint.insecure, report.version
        if token_secret:
            locked.token_secret = token_secret
        locked.save()
        audit_record(
            actor=actor,
            action="inventory.cluster.update",
            target=locked,
            before=before,
            after={**_state(locked), "token_secret_changed": bool(token_secret)},
        )
    return Registration(cluster=locked, report=report)


def _set_enabled(*, actor: Any, cluster: Cluster, enabled: bool) -> Cluster:
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if locked.enabled == enabled:
            return locked
        locked.enabled = enabled
        locked.save(update_fields=["enabled"])
        audit_record(
            actor=actor,
            action="inventory.cluster.enable" if enabled else "inventory.cluster.disable",
            target=locked,
            before={"enabled": not enabled},
            after={"enabled": enabled},
        )
    return locked


def cluster_disable(*, actor: Any, cluster: Cluster) -> Cluster:
    """Stop syncing ``cluster``; its inventory stays as last seen (idempotent)."""
    return _set_enabled(actor=actor, cluster=cluster, enabled=False)


def cluster_enable(*, actor: Any, cluster: Cluster) -> Cluster:
    """Resume syncing ``cluster`` (idempotent)."""
    return _set_enabled(actor=actor, cluster=cluster, enabled=True)


def cluster_sync_request(*, actor: Any, cluster: Cluster) -> None:
    """Queue a sync of ``cluster`` now (the "Sync now" button); audited, queued on commit.

    The sync task itself skips a cluster whose sync is already running.
    """
    if not cluster.enabled:
        raise ValidationError("This cluster is disabled; enable it before syncing.")
    with transaction.atomic():
        audit_record(actor=actor, action="inventory.cluster.sync_request", target=cluster)
        transaction.on_commit(lambda: _queue_sync(cluster.pk))


def storage_classify(*, actor: Any, storage: Storage, storage_class: str) -> Storage:
    """Set the class of ``storage`` (approved, removable, external, quarantine, unclassified).

    Copies already recorded keep the class they had when recorded (the ledger is
    append-only); new records see the new class.
    """
    if storage_class not in StorageClass.values:
        raise ValidationError({"storage_class": f"Unknown storage class {storage_class!r}."})
    with transaction.atomic():
        locked = Storage.objects.select_for_update().get(pk=storage.pk)
        before = locked.storage_class
        if before == storage_class:
            return locked
        locked.storage_class = storage_class
        locked.save(update_fields=["storage_class"])
        audit_record(
            actor=actor,
            action="inventory.storage.classify",
            target=locked,
            before={"storage_class": before},
            after={"storage_class": storage_class},
        )
    return locked
