"""Secrets at rest: encrypted with the newest key, readable after rotation, refused without it."""

import pytest

from governance.core import crypto

OLD = "old-key-" + "x" * 40
NEW = "new-key-" + "y" * 40


def test_round_trip_and_ciphertext_hides_plaintext(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    token = crypto.encrypt("token-secret-123")
    assert "token-secret-123" not in token
    assert crypto.decrypt(token) == "token-secret-123"


def test_rotation_keeps_old_secrets_readable_and_reencrypts(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    token = crypto.encrypt("s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt(token) == "s3cret"
    rotated = crypto.reencrypt(token)
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert crypto.decrypt(rotated) == "s3cret"
    with pytest.raises(crypto.SecretDecryptionError, match="FIELD_ENCRYPTION_KEYS"):
        crypto.decrypt(token)


def test_short_keys_are_refused(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.FIELD_ENCRYPTION_KEYS = ["short"]
    with pytest.raises(ImproperlyConfigured, match="at least 32"):
        crypto.encrypt("x")


def test_without_keys_the_secret_key_is_used_whatever_its_length(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.SECRET_KEY = "short-dev-key"
    assert crypto.decrypt(crypto.encrypt("x")) == "x"
