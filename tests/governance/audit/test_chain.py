"""The audit hash chain: writing, verifying, and finding tampering at the right link."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from governance.audit.chain import event_hash
from governance.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from governance.audit.services import AuditOutsideTransactionError, audit_record
from governance.audit.verify import chain_verify
from governance.core.middleware import _current_request_id
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_events_chain_from_genesis_with_gapless_sequences(record_events):
    first, second, third = record_events(3)

    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    head = AuditChainHead.objects.get()
    assert (head.sequence, head.hash) == (3, third.hash)


def test_event_records_actor_target_change_and_request_id():
    actor = UserFactory(username="ada")
    team = TeamFactory(name="Platform")
    token = _current_request_id.set("req-42")
    try:
        with transaction.atomic():
            event = audit_record(
                actor=actor,
                action="team.rename",
                target=team,
                before={"name": "Old"},
                after={"name": "Platform"},
            )
    finally:
        _current_request_id.reset(token)

    event.refresh_from_db()
    assert (event.actor, event.actor_repr, event.request_id) == (actor, "ada", "req-42")
    assert (event.target_content_type.model, event.target_id) == ("team", str(team.pk))
    assert (event.before, event.after, event.target_repr) == (
        {"name": "Old"},
        {"name": "Platform"},
        "Platform",
    )


def test_hash_covers_values_as_read_back_from_the_database():
    import datetime

    with transaction.atomic():
        event = audit_record(
            actor=None,
            action="test.types",
            after={"when": datetime.date(2025, 1, 2), "ratio": 0.1, "n": 10**12, "é": "ü"},
        )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.after == {"when": "2025-01-02", "ratio": 0.1, "n": 10**12, "é": "ü"}
    assert chain_verify().ok


def test_audit_record_refuses_to_run_outside_a_transaction(transactional_db):
    with pytest.raises(AuditOutsideTransactionError):
        audit_record(actor=None, action="test.outside")
    assert not AuditEvent.objects.exists()


def test_hash_changes_with_every_field(record_events):
    (event,) = record_events(1)
    fields = {
        "sequence": event.sequence,
        "created_at": event.created_at,
        "actor_id": None,
        "actor_repr": event.actor_repr,
        "action": event.action,
        "target_type": "",
        "target_id": "",
        "target_repr": "",
        "before": None,
        "after": event.after,
        "request_id": "",
        "prev_hash": event.prev_hash,
    }
    assert event_hash(**fields) == event.hash
    for name, other in [("action", "x"), ("after", {"index": 1}), ("actor_id", 7)]:
        assert event_hash(**{**fields, name: other}) != event.hash


def test_verify_command_reports_ok_with_count(record_events, capsys):
    record_events(5)
    call_command("audit_verify", batch_size=2)
    assert capsys.readouterr().out.strip() == "OK: 5 audit events verified"


def test_changed_row_is_found_at_its_sequence(record_events, as_db_superuser):
    record_events(6)
    as_db_superuser(
        "UPDATE audit_auditevent SET action = %s WHERE sequence = %s", ["test.forged", 4]
    )

    with pytest.raises(CommandError) as failure:
        call_command("audit_verify", batch_size=2)
    assert failure.value.returncode == 1
    assert "BROKEN at sequence 4" in str(failure.value)
    assert "row changed" in str(failure.value)


def test_rehashed_row_breaks_the_next_link(record_events, as_db_superuser):
    """A forger who also recomputes the row's hash is caught at the following event."""
    events = record_events(5)
    forged = events[2]
    forged_hash = event_hash(
        sequence=forged.sequence,
        created_at=forged.created_at,
        actor_id=None,
        actor_repr=forged.actor_repr,
        action="test.forged",
        target_type="",
        target_id="",
        target_repr="",
        before=None,
        after=forged.after,
        request_id="",
        prev_hash=forged.prev_hash,
    )
    as_db_superuser(
        "UPDATE audit_auditevent SET action = %s, hash = %s WHERE sequence = %s",
        ["test.forged", forged_hash, forged.sequence],
    )

    report = chain_verify()
    assert (report.broken_at, report.checked) == (4, 3)
    assert "prev_hash" in report.problem


def test_deleted_row_is_found(record_events, as_db_superuser):
    record_events(5)
    as_db_superuser("DELETE FROM audit_auditevent WHERE sequence = %s", [2])

    report = chain_verify()
    assert report.broken_at == 2
    assert "missing" in report.problem


def test_deleted_tail_is_found_through_the_chain_head(record_events, as_db_superuser):
    record_events(5)
    as_db_superuser("DELETE FROM audit_auditevent WHERE sequence >= %s", [4])

    report = chain_verify()
    assert (report.ok, report.broken_at, report.checked) == (False, 4, 3)
    assert "chain head records #5" in report.problem


def test_empty_trail_verifies(db):
    report = chain_verify()
    assert (report.ok, report.checked) == (True, 0)
