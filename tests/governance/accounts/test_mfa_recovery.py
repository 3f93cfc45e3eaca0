"""Recovery codes at rest: only keyed hashes are stored, each code works once, and the
plain-text codes of django-otp's static devices move into hashed ones."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from governance.accounts import mfa
from governance.accounts.models import RecoveryCode, RecoveryCodeDevice
from governance.audit.models import AuditEvent
from tests.factories import UserFactory
from tests.governance.accounts.mfa_helpers import enrolled

pytestmark = pytest.mark.django_db

_migration = importlib.import_module(
    "governance.accounts.migrations.0005_mfa_recovery_codes_hashed"
)


def _raw_rows(table: str) -> str:
    """Every column of every row of ``table`` as the database holds it, in one string."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return repr(cursor.fetchall())


def test_recovery_codes_and_their_key_are_not_stored_in_plain_text(otp_clock):
    user = UserFactory(username="rc-raw")
    _, codes = enrolled(user)
    device = RecoveryCodeDevice.objects.get(user=user)

    stored = _raw_rows("accounts_recoverycode") + _raw_rows("accounts_recoverycodedevice")
    assert RecoveryCode.objects.filter(device=device).count() == 10
    assert not [code for code in codes if code in stored]
    assert device.key not in stored
    assert not StaticToken.objects.exists()


def test_the_same_code_hashes_differently_per_row(otp_clock):
    user = UserFactory(username="rc-salt")
    enrolled(user)
    device = RecoveryCodeDevice.objects.get(user=user)
    device.codes_replace(["samecode", "samecode"])

    first, second = device.codes.all()
    assert first.salt != second.salt
    assert first.digest != second.digest
    assert device.verify_token("samecode")
    assert device.verify_token("samecode")
    assert not device.verify_token("samecode")


def test_a_wrong_recovery_code_counts_toward_the_lock_out(otp_clock):
    user = UserFactory(username="rc-lock")
    _, codes = enrolled(user)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert mfa.mfa_verify(user=user, code="zzzzzzzz") is None

    with pytest.raises(mfa.MfaLockedError):
        mfa.mfa_verify(user=user, code=codes[0])
    failed = AuditEvent.objects.filter(target_id=str(user.pk), action=mfa.FAILED).count()
    assert failed == settings.AXES_FAILURE_LIMIT
    assert mfa.mfa_status(user).recovery_codes_left == 10


def test_a_used_recovery_code_is_gone_from_the_table(otp_clock):
    user = UserFactory(username="rc-used")
    _, codes = enrolled(user)
    device = RecoveryCodeDevice.objects.get(user=user)

    assert device.verify_token(codes[3])
    assert not device.verify_token(codes[3])
    assert device.codes.count() == 9
    device.refresh_from_db()
    assert device.last_used_at is not None


def test_migration_moves_plain_text_codes_into_a_hashed_device():
    user = UserFactory(username="rc-migrate")
    bystander = UserFactory(username="rc-migrate-none")
    static = StaticDevice.objects.create(user=user, name="Recovery codes")
    old_codes = ["abcd2345", "efgh6723", "ijkl4567"]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=code) for code in old_codes)

    _migration.static_codes_hash(apps, None)

    assert not StaticDevice.objects.exists()
    assert not StaticToken.objects.exists()
    assert not RecoveryCodeDevice.objects.filter(user=bystander).exists()
    device = RecoveryCodeDevice.objects.get(user=user)
    assert device.name == "Recovery codes"
    stored = _raw_rows("accounts_recoverycode")
    assert not [code for code in old_codes if code in stored]
    assert mfa.mfa_status(user).recovery_codes_left == 3
    assert mfa.mfa_verify(user=user, code="EFGH 6723") == device
    assert mfa.mfa_verify(user=user, code="efgh6723") is None
    assert mfa.mfa_status(user).recovery_codes_left == 2
