"""Checking the audit chain end to end (read-only)."""

from __future__ import annotations

from dataclasses import dataclass

from governance.audit.chain import event_hash
from governance.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent

_FIELDS = (
    "sequence",
    "created_at",
    "actor_id",
    "actor_repr",
    "action",
    "target_content_type__app_label",
    "target_content_type__model",
    "target_id",
    "target_repr",
    "before",
    "after",
    "request_id",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a walk: how many events were checked and the first broken link."""

    checked: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def chain_verify(*, batch_size: int = 2000) -> ChainReport:
    """Walk every event in sequence order and report the first broken link.

    Memory stays flat (a server-side cursor on PostgreSQL, chunks of ``batch_size``).
    Events appended while the walk runs are outside it: the walk stops at the head
    read first, so a busy portal verifies without false alarms.
    """
    head = AuditChainHead.objects.filter(id=1).values("sequence", "hash").first()
    head_sequence, head_hash = (head["sequence"], head["hash"]) if head else (0, GENESIS_HASH)
    expected_sequence, expected_prev = 1, GENESIS_HASH
    checked = 0
    rows = (
        AuditEvent.objects.filter(sequence__lte=head_sequence)
        .order_by("sequence")
        .values_list(*_FIELDS)
        .iterator(chunk_size=batch_size)
    )
    for row in rows:
        record = dict(zip(_FIELDS, row, strict=True))
        sequence = record["sequence"]
        if sequence != expected_sequence:
            return ChainReport(
                checked,
                expected_sequence,
                f"event #{expected_sequence} is missing (next present is #{sequence})",
            )
        if record["prev_hash"] != expected_prev:
            return ChainReport(
                checked, sequence, f"prev_hash does not match the hash of #{sequence - 1}"
            )
        app_label, model = (
            record["target_content_type__app_label"],
            record["target_content_type__model"],
        )
        recomputed = event_hash(
            sequence=sequence,
            created_at=record["created_at"],
            actor_id=record["actor_id"],
            actor_repr=record["actor_repr"],
            action=record["action"],
            target_type=f"{app_label}.{model}" if app_label else "",
            target_id=record["target_id"],
            target_repr=record["target_repr"],
            before=record["before"],
            after=record["after"],
            request_id=record["request_id"],
            prev_hash=record["prev_hash"],
        )
        if recomputed != record["hash"]:
            return ChainReport(
                checked, sequence, "hash does not match the event's contents (row changed)"
            )
        checked += 1
        expected_sequence, expected_prev = sequence + 1, record["hash"]
    if checked != head_sequence or expected_prev != head_hash:
        return ChainReport(
            checked,
            checked + 1,
            f"the chain head records #{head_sequence} but the chain ends at #{checked}"
            " (events removed from the end, or the head was altered)",
        )
    return ChainReport(checked)
