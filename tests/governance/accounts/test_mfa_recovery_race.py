"""Two sign-ins with the same recovery code at the same moment: both find the code, only
one consumes it. Real threads on PostgreSQL, the production database (SQLite's shared
in-memory test database answers "table is locked" instead of waiting)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from governance.accounts.models import RecoveryCodeDevice
from tests.factories import UserFactory
from tests.governance.accounts.mfa_helpers import enrolled
from tests.markers import concurrent_writers

pytestmark = [
    pytest.mark.django_db(transaction=True),
    concurrent_writers,
]


def test_one_recovery_code_used_twice_at_once_is_accepted_once(otp_clock, monkeypatch):
    user = UserFactory(username="rc-race")
    _, codes = enrolled(user)
    both_matched = threading.Barrier(2, timeout=20)
    real_match = RecoveryCodeDevice.match

    def match_then_wait(self, token):
        found = real_match(self, token)
        both_matched.wait()
        return found

    monkeypatch.setattr(RecoveryCodeDevice, "match", match_then_wait)
    outcomes: list[bool] = []

    def use_code() -> None:
        try:
            device = RecoveryCodeDevice.objects.get(user=user)
            outcomes.append(device.verify_token(codes[0]))
        finally:
            connection.close()

    threads = [threading.Thread(target=use_code) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == [False, True]
    assert RecoveryCodeDevice.objects.get(user=user).codes.count() == 9
