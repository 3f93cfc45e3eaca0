"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One recorded change; never updated or deleted, ``hash`` chains it to its predecessor.

    ``sequence`` is gap-free from 1; ``prev_hash`` equals the ``hash`` of the event with
    the previous sequence (``GENESIS_HASH`` for the first); ``hash`` is the SHA-256 of the
    canonical form of the event (see ``governance.audit.chain``). Users who appear here
    cannot be deleted (PROTECT): they are deactivated instead, so history stays whole.
    """

    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    actor_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    target_content_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-sequence"]
        # ``sequence`` is unique, so its index serves the default ordering.
        indexes = [
            models.Index(fields=["created_at"], name="audit_event_created_idx"),
            models.Index(fields=["action", "sequence"], name="audit_event_action_idx"),
            models.Index(fields=["actor", "sequence"], name="audit_event_actor_idx"),
            models.Index(
                fields=["target_content_type", "target_id"], name="audit_event_target_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sequence__gte=1),
                name="audit_event_sequence_positive",
                violation_error_message="Audit sequence numbers start at 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_repr}"


class AuditChainHead(models.Model):
    """The single row naming the newest event; writers lock it to append one at a time.

    Its ``sequence``/``hash`` always equal those of the newest ``AuditEvent`` (both are
    written in one transaction), so a deleted tail of the chain is detectable.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(id=1),
                name="audit_chain_head_single_row",
                violation_error_message="There is exactly one audit chain head.",
            ),
        ]

    def __str__(self) -> str:
        return f"audit head at #{self.sequence}"
