"""Model fields of the shared kernel."""

from __future__ import annotations

from typing import Any

from django.db import models

from governance.core import crypto


class EncryptedTextField(models.TextField):
    """Text stored encrypted (Fernet, see ``governance.core.crypto``); plain in Python.

    The column holds only ciphertext, so it can neither be searched nor indexed by
    value; that is the point.
    """

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)
