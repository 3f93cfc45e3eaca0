"""Users of Steward and the teams they belong to."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import b32encode
from binascii import unhexlify
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django_otp.models import Device, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from governance.core.fields import EncryptedTextField


def _random_totp_key() -> str:
    return random_hex(20)


def _random_hmac_key() -> str:
    return secrets.token_hex(32)


def recovery_code_digest(key: str, code: str, salt: str) -> str:
    """HMAC-SHA256 of a recovery code and its salt under its device's key (the stored form)."""
    return hmac.new(key.encode(), f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def recovery_code_salt() -> str:
    return secrets.token_hex(16)


class User(AbstractUser):
    """A person who signs in to Steward; rights come from role groups and object permissions."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Team(models.Model):
    """A group of people who own VMs together; name and slug are unique."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="TeamMembership",
        related_name="teams",
        blank=True,
    )

    class Meta:
        ordering = ["name"]
        # The unique constraints on name and slug double as the ordering index.

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A user's place in a team; a user is in a team at most once, as member or manager."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    is_manager = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"],
                name="accounts_membership_unique_team_user",
                violation_error_message="This user is already in the team.",
            ),
        ]
        indexes = [models.Index(fields=["user", "team"], name="accounts_membership_user_idx")]

    def __str__(self) -> str:
        role = "manager" if self.is_manager else "member"
        return f"{self.user} ({role} of {self.team})"


class TOTPDevice(TimestampMixin, Device):
    """A user's authenticator app (RFC 6238, SHA-1, 6 digits, 30 s); the key is encrypted.

    django-otp's own TOTP model keeps the key in plain hex, so Steward defines its device on
    django-otp's abstract ``Device`` with the key in an ``EncryptedTextField``. A code is
    accepted once: ``last_t`` only moves forward. Wrong codes are throttled per user by
    ``governance.accounts.mfa`` (lock-out) rather than by django-otp's per-device back-off.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_devices"
    )

    key = EncryptedTextField(default=_random_totp_key, help_text="Hex secret, encrypted at rest.")
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    STEP = 30
    DIGITS = 6

    class Meta(Device.Meta):
        verbose_name = "TOTP device"
        ordering = ["user", "id"]
        indexes = [models.Index(fields=["user", "id"], name="accounts_totp_user_idx")]

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    @property
    def config_url(self) -> str:
        """The ``otpauth://`` address an authenticator app reads from the QR code."""
        label = quote(f"Steward:{self.user.get_username()}")
        secret = b32encode(self.bin_key).decode()
        return f"otpauth://totp/{label}?secret={secret}&issuer=Steward&digits=6&period=30"

    def verify_token(self, token: Any) -> bool:
        try:
            value = int(token)
        except (TypeError, ValueError):
            return False
        totp = TOTP(self.bin_key, self.STEP, 0, self.DIGITS, self.drift)
        if not totp.verify(value, self.tolerance, self.last_t + 1):
            return False
        self.last_t = totp.t()
        self.drift = totp.drift
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True


class RecoveryCodeDevice(TimestampMixin, Device):
    """A user's single-use recovery codes, kept only as keyed hashes; each works once.

    Each code is stored as HMAC-SHA256 under this device's random key with a random salt
    of its own, never in plain text. The key sits in an ``EncryptedTextField`` like the
    TOTP key, so a read of the database alone (backup, replica, injection) yields neither
    codes nor anything to test guesses against, and ``rotate_secrets`` re-encrypts it.
    Not Django's password hashers: PBKDF2 costs about half a second per code here, and a
    sign-in try checks up to ten codes (five seconds per wrong code, an easy way to load
    the server); a slow hash would add nothing against someone who also holds
    ``FIELD_ENCRYPTION_KEYS``, since they could already decrypt the TOTP secret itself.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_code_devices"
    )
    key = EncryptedTextField(default=_random_hmac_key, help_text="HMAC key, encrypted at rest.")

    class Meta(Device.Meta):
        verbose_name = "recovery code device"
        ordering = ["user", "id"]
        indexes = [models.Index(fields=["user", "id"], name="accounts_recovery_user_idx")]

    def codes_replace(self, codes: list[str]) -> None:
        """Store ``codes`` (hashed) in place of the device's current ones."""
        self.codes.all().delete()
        salts = [recovery_code_salt() for _ in codes]
        RecoveryCode.objects.bulk_create(
            RecoveryCode(device=self, salt=salt, digest=recovery_code_digest(self.key, code, salt))
            for code, salt in zip(codes, salts, strict=True)
        )

    def match(self, token: str) -> RecoveryCode | None:
        """The stored code ``token`` hashes to; every candidate compared in constant time."""
        found = None
        for candidate in self.codes.all():
            digest = recovery_code_digest(self.key, token, candidate.salt)
            if hmac.compare_digest(digest, candidate.digest):
                found = candidate
        return found

    def verify_token(self, token: Any) -> bool:
        """Accept and consume a code; of two simultaneous uses only one deletes the row."""
        if not isinstance(token, str) or not token:
            return False
        match = self.match(token)
        if match is None:
            return False
        with transaction.atomic():
            deleted, _ = RecoveryCode.objects.filter(pk=match.pk).delete()
            if deleted != 1:
                return False
            self.set_last_used_timestamp(commit=False)
            self.save(update_fields=["last_used_at"])
        return True


class RecoveryCode(models.Model):
    """One unused recovery code: a salt and the device-keyed HMAC of code and salt."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    salt = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["device", "id"]
        indexes = [models.Index(fields=["device", "id"], name="accounts_recoverycode_dev_idx")]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of {self.device}"
