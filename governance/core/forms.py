"""Forms of the shared kernel."""

from django import forms


class PingForm(forms.Form):
    """A message for the worker to send back to the sender's open tabs."""

    text = forms.CharField(
        label="Message",
        max_length=200,
        initial="Hello from the worker",
        help_text="The worker publishes it back to every tab you have open.",
    )
