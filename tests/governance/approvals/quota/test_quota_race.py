"""Two submissions for one team at the same moment: both pass their validator (neither
sees the other yet), and the check in the storing transaction, behind the team's quota
lock, lets only one of them in. Real threads on PostgreSQL, the production database
(SQLite's shared in-memory test database answers "table is locked" instead of waiting;
a file database serialises its IMMEDIATE transactions anyway)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from governance.approvals.models import Request
from governance.approvals.services import prechecks
from tests.governance.approvals.quota.conftest import limit, provision, submit
from tests.markers import concurrent_writers

pytestmark = [
    pytest.mark.django_db(transaction=True),
    concurrent_writers,
]


def test_two_concurrent_submissions_cannot_both_squeeze_under_the_limit(sized, monkeypatch):
    limit(sized, sized.ops, max_cores=7)  # Ops has 4: one more 2-core VM fits, not two
    both_checked = threading.Barrier(2, timeout=20)
    real_check = prechecks.quota_check

    def check_then_wait(**arguments):
        real_check(**arguments)
        both_checked.wait()

    monkeypatch.setattr(prechecks, "quota_check", check_then_wait)
    outcomes: list[str] = []

    def submit_one() -> None:
        try:
            submit(sized, "provision", provision(sized))
            outcomes.append("stored")
        except ValidationError as error:
            outcomes.append(" ".join(error.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == [
        "Team Ops would use 8 of 7 vCPU cores (this request: 2). "
        "Ask an admin to raise the quota or free capacity.",
        "stored",
    ]
    assert Request.objects.count() == 1
