"""The cluster registration form: the checks ``Endpoint`` enforces, worded for people."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from inventory.proxmox import Endpoint, normalise_fingerprint


class Trust(models.TextChoices):
    FINGERPRINT = "fingerprint", "Pin the certificate's SHA-256 fingerprint"
    CA_BUNDLE = "ca_bundle", "Verify with a CA bundle"
    INSECURE = "insecure", "Do not verify (lab only)"


class ClusterForm(forms.Form):
    """Name, API URL, token and exactly one way to trust the certificate.

    ``token_secret`` is never rendered back. On an existing cluster (``require_secret``
    False) an empty secret keeps the stored one.
    """

    name = forms.SlugField(
        max_length=100, help_text="A short unique name: letters, digits, dashes (pve-prod-1)."
    )
    url = forms.CharField(label="API URL", max_length=300, help_text="https://host:8006, no path.")
    token_id = forms.CharField(
        label="Token id", max_length=200, help_text="user@realm!tokenname, e.g. steward@pve!sync."
    )
    token_secret = forms.CharField(
        label="Token secret",
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted; never shown again.",
    )
    trust = forms.ChoiceField(
        label="Certificate trust",
        choices=Trust.choices,
        initial=Trust.FINGERPRINT,
        widget=forms.RadioSelect,
    )
    fingerprint = forms.CharField(
        label="SHA-256 fingerprint",
        required=False,
        max_length=200,
        help_text="As shown under node > System > Certificates (colons optional).",
    )
    ca_bundle = forms.CharField(
        label="CA bundle (PEM)", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args: Any, require_secret: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["token_secret"].required = require_secret
        if not require_secret:
            self.fields["token_secret"].help_text = "Leave empty to keep the stored secret."

    def clean_url(self) -> str:
        return self.cleaned_data["url"].strip().rstrip("/")

    def clean_fingerprint(self) -> str:
        value = self.cleaned_data["fingerprint"].strip()
        if not value:
            return ""
        try:
            return normalise_fingerprint(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc).capitalize() + ".") from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        trust = data.get("trust")
        if trust == Trust.FINGERPRINT and not data.get("fingerprint"):
            if "fingerprint" not in self.errors:
                self.add_error("fingerprint", "Give the fingerprint to pin.")
        elif trust == Trust.CA_BUNDLE and "-----BEGIN CERTIFICATE-----" not in data.get(
            "ca_bundle", ""
        ):
            self.add_error("ca_bundle", "Paste the CA certificate(s) in PEM form.")
        elif not self.errors:
            # The secret may be empty on an update; Endpoint checks everything else.
            self.endpoint(stored_secret="placeholder")  # noqa: S106 - validation only
        return data

    def trust_settings(self) -> dict[str, Any]:
        """The one trust mode chosen, as keyword arguments of ``Endpoint`` and the services."""
        trust = self.cleaned_data["trust"]
        return {
            "fingerprint": self.cleaned_data["fingerprint"] if trust == Trust.FINGERPRINT else "",
            "ca_bundle": self.cleaned_data["ca_bundle"].strip() if trust == Trust.CA_BUNDLE else "",
            "insecure": trust == Trust.INSECURE,
        }

    def endpoint(self, *, stored_secret: str = "") -> Endpoint | None:
        """The ``Endpoint`` the form describes, or None after adding its refusal to the form."""
        try:
            return Endpoint(
                url=self.cleaned_data["url"],
                token_id=self.cleaned_data["token_id"].strip(),
                token_secret=self.cleaned_data["token_secret"] or stored_secret,
                **self.trust_settings(),
            )
        except ValueError as exc:
            message = str(exc)
            field = "url" if "URL" in message else "token_id" if "token id" in message else None
            self.add_error(field, message[:1].upper() + message[1:] + ".")
            return None


class StorageClassForm(forms.Form):
    """One storage's class, set inline on the storage page."""

    storage_class = forms.ChoiceField(label="Class")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from inventory.models import StorageClass

        super().__init__(*args, **kwargs)
        self.fields["storage_class"].choices = StorageClass.choices
