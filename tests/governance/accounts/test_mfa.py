"""Second-factor services: enrolment, codes, recovery codes, lock-out, reset and removal."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from governance.accounts import mfa
from governance.accounts.models import RecoveryCodeDevice, TOTPDevice
from governance.accounts.roles import Role
from governance.audit.models import AuditEvent
from governance.settings import env
from tests.factories import UserFactory
from tests.governance.accounts.mfa_helpers import code_for, enrolled

pytestmark = pytest.mark.django_db


def actions(user) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_id=str(user.pk), action__startswith="user.mfa")
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def test_enrolment_confirms_the_device_and_gives_ten_single_use_codes(otp_clock):
    user = UserFactory(username="mfa-enrol")
    device, codes = enrolled(user)

    assert device.confirmed
    assert len(set(codes)) == mfa.RECOVERY_CODE_COUNT == 10
    assert mfa.mfa_status(user) == mfa.MfaStatus(
        enabled=True, required=False, recovery_codes_left=10
    )
    assert actions(user) == ["user.mfa_enabled"]


def test_the_totp_key_is_encrypted_at_rest(otp_clock):
    device, _ = enrolled(UserFactory(username="mfa-crypt"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM accounts_totpdevice WHERE id = %s", [device.pk])
        stored = cursor.fetchone()[0]
    assert len(device.key) == 40
    assert device.key not in stored
    assert TOTPDevice.objects.get(pk=device.pk).key == device.key


def test_a_wrong_code_does_not_confirm_enrolment(otp_clock):
    user = UserFactory(username="mfa-wrong-enrol")
    device = mfa.mfa_enrol_start(user=user)

    assert mfa.mfa_enrol_confirm(user=user, device=device, code="000000") is None
    device.refresh_from_db()
    assert not device.confirmed
    assert mfa.mfa_device(user) is None
    assert actions(user) == ["user.mfa_failed"]


def test_a_totp_code_signs_in_once(otp_clock):
    user = UserFactory(username="mfa-replay")
    device, _ = enrolled(user)
    otp_clock.step()
    code = code_for(device)

    assert mfa.mfa_verify(user=user, code=code) == device
    assert mfa.mfa_verify(user=user, code=code) is None  # replayed within its window
    otp_clock.step()
    assert mfa.mfa_verify(user=user, code=code_for(device)) == device


def test_a_recovery_code_works_once_in_place_of_a_totp_code(otp_clock):
    user = UserFactory(username="mfa-recovery")
    _, codes = enrolled(user)

    assert isinstance(mfa.mfa_verify(user=user, code=codes[0].upper()), RecoveryCodeDevice)
    assert mfa.mfa_verify(user=user, code=codes[0]) is None
    assert mfa.mfa_status(user).recovery_codes_left == 9
    verified = AuditEvent.objects.get(target_id=str(user.pk), action="user.mfa_verified")
    assert verified.after == {"method": "recovery_code"}


def test_five_wrong_codes_lock_the_user_out_until_the_window_passes(otp_clock, monkeypatch):
    user = UserFactory(username="mfa-lock")
    device, _ = enrolled(user)
    otp_clock.step()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert mfa.mfa_verify(user=user, code="000000") is None

    with pytest.raises(mfa.MfaLockedError):
        mfa.mfa_verify(user=user, code=code_for(device))  # even the right code waits
    assert actions(user)[-2:] == ["user.mfa_failed", "user.mfa_locked"]

    later = timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    monkeypatch.setattr(mfa.timezone, "now", lambda: later)
    assert mfa.mfa_verify(user=user, code=code_for(device)) == device


def test_a_good_code_ends_a_run_of_wrong_ones(otp_clock):
    user = UserFactory(username="mfa-run")
    device, _ = enrolled(user)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        mfa.mfa_verify(user=user, code="000000")
    otp_clock.step()
    assert mfa.mfa_verify(user=user, code=code_for(device)) == device
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        mfa.mfa_verify(user=user, code="000000")
    assert mfa.mfa_locked_until(user) is None


def test_new_recovery_codes_need_a_code_and_end_the_old_ones(otp_clock):
    user = UserFactory(username="mfa-regen")
    _, old = enrolled(user)

    assert mfa.mfa_recovery_codes_regenerate(user=user, code="000000") is None
    new = mfa.mfa_recovery_codes_regenerate(user=user, code=old[0])
    assert new is not None
    assert not set(new) & set(old)
    assert mfa.mfa_verify(user=user, code=old[1]) is None
    assert "user.mfa_recovery_codes_regenerated" in actions(user)


def test_removal_needs_a_code_and_a_role_that_allows_it(otp_clock, settings):
    settings.MFA_REQUIRED_ROLES = ["admin"]
    admin = UserFactory(username="mfa-rm-admin", roles=[Role.ADMIN])
    user = UserFactory(username="mfa-rm-user", roles=[Role.END_USER])
    _, admin_codes = enrolled(admin)
    _, codes = enrolled(user)

    with pytest.raises(ValidationError):
        mfa.mfa_remove(user=admin, code=admin_codes[0])
    assert mfa.mfa_remove(user=user, code="000000") is False
    assert mfa.mfa_remove(user=user, code=codes[0]) is True
    assert mfa.mfa_status(user).enabled is False
    assert mfa.mfa_device(admin) is not None
    assert actions(user)[-1] == "user.mfa_removed"


def test_an_admin_resets_another_users_factor_but_not_their_own(otp_clock):
    admin = UserFactory(username="mfa-reset-admin", roles=[Role.ADMIN])
    user = UserFactory(username="mfa-reset-user")
    enrolled(admin)
    enrolled(user)

    mfa.mfa_reset(actor=admin, user=user)
    with pytest.raises(PermissionDenied):
        mfa.mfa_reset(actor=admin, user=admin)

    assert mfa.mfa_device(user) is None
    assert not RecoveryCodeDevice.objects.filter(user=user).exists()
    assert mfa.mfa_device(admin) is not None
    reset = AuditEvent.objects.get(action="user.mfa_reset")
    assert (reset.actor, reset.target_id, reset.before) == (admin, str(user.pk), {"enabled": True})


def test_required_roles_decide_the_sign_in_state(settings):
    settings.MFA_REQUIRED_ROLES = ["admin", "security_officer"]
    officer = UserFactory(username="mfa-state-sec", roles=[Role.SECURITY_OFFICER])
    auditor = UserFactory(username="mfa-state-aud", roles=[Role.AUDITOR])

    assert mfa.mfa_state_for(officer) == mfa.ENROL
    assert mfa.mfa_state_for(auditor) == mfa.NONE


def test_role_names_of_the_setting_are_the_roles_and_none_is_required_embedded():
    assert set(Role.values) == env._ROLE_NAMES
    assert env.DEBUG
    assert env.MFA_REQUIRED_ROLES == []


def _env_read(**variables: str) -> subprocess.CompletedProcess:
    code = "from governance.settings import env; print(','.join(env.MFA_REQUIRED_ROLES))"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_requires_mfa_of_the_roles_that_change_the_estate_and_refuses_typos():
    production = {
        "DEBUG": "0",
        "SECRET_KEY": "test-only-secret",
        "FIELD_ENCRYPTION_KEYS": "test-only-field-encryption-key-0123456789",
        "ALLOWED_HOSTS": "steward.example.org",
    }
    assert _env_read(**production).stdout.strip() == "admin,security_officer,manager"
    typo = _env_read(MFA_REQUIRED_ROLES="admin,approver")
    assert typo.returncode == 2
    assert "unknown roles: approver" in typo.stderr
