"""The form component renders inline errors where assistive technology finds them."""

from __future__ import annotations

from django import forms
from django.template.loader import render_to_string


class SampleForm(forms.Form):
    name = forms.CharField(help_text="Shown to your team.")
    notify = forms.BooleanField(required=False)
    token = forms.CharField(widget=forms.HiddenInput)

    def clean(self):
        raise forms.ValidationError("These values do not go together.")


def _render(data: dict | None) -> str:
    form = SampleForm(data)
    if data is not None:
        form.is_valid()
    return render_to_string("components/form.html", {"form": form, "submit_label": "Send"})


def test_unbound_form_has_no_errors_and_a_labelled_submit():
    html = _render(None)
    assert 'role="alert"' not in html
    assert 'aria-invalid="true"' not in html
    assert '<label for="id_name">' in html
    assert ">Send</button>" in html


def test_field_errors_are_inline_and_linked_to_the_widget():
    html = _render({"notify": "on"})
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_name_helptext id_name_error"' in html
    assert '<ul class="field__errors" id="id_name_error">' in html
    assert "This field is required." in html


def test_non_field_and_hidden_field_errors_are_shown_as_alerts():
    html = _render({"name": "x"})
    assert html.count('role="alert"') == 2
    assert "These values do not go together." in html
    assert "Token: This field is required." in html
