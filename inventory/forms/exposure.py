"""The exposure report's question: which node, over which window. Shared by the page, the
CSV export and the API so all three accept and refuse the same things."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from inventory.models import Node

DEFAULT_DAYS = 30
# An investigation rarely needs more; a wider window mostly costs the database.
MAX_WINDOW = timedelta(days=731)
# The browser and the server may disagree about "now" by a little, and the default end
# is the next whole minute.
CLOCK_SLACK = timedelta(minutes=1)
_LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime(_LOCAL_INPUT)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format=_LOCAL_INPUT)


class ExposureForm(forms.Form):
    """``cluster`` and ``node`` name one of ``nodes`` (those the user may ask about);
    ``since``/``until`` accept the browser's local ``YYYY-MM-DDTHH:MM`` and ISO 8601."""

    cluster = forms.ChoiceField(label="Cluster")
    node = forms.ChoiceField(label="Node")
    since = forms.DateTimeField(label="From", widget=DateTimeLocalInput())
    until = forms.DateTimeField(label="To", widget=DateTimeLocalInput())

    def __init__(self, data: Any, *, nodes: QuerySet[Node], now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        merged = {
            "since": _local(self.now - timedelta(days=DEFAULT_DAYS)),
            # The inputs hold whole minutes: round up so "now" covers what just happened.
            "until": _local(self.now.replace(second=0, microsecond=0) + timedelta(minutes=1)),
        }
        merged.update(
            {key: data[key] for key in ("cluster", "node", "since", "until") if key in data}
        )
        # Bound only once a node is asked about: a bare visit (or one from a node list's
        # link naming just the cluster) shows the form filled in, not "this field is
        # required" on the node it has not chosen yet.
        super().__init__(merged if merged.get("node") else None, initial=merged)
        self._nodes = {(node.cluster.name, node.name): node for node in nodes}
        by_cluster: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for (cluster, name), node in self._nodes.items():
            by_cluster[cluster].append((name, f"{name} (gone)" if node.gone_since else name))
        self.fields["cluster"].choices = [("", "—"), *((c, c) for c in by_cluster)]
        self.fields["node"].choices = [("", "—"), *by_cluster.items()]

    @property
    def asked(self) -> bool:
        """Whether a node was named at all (a bare visit shows only the form)."""
        return bool(self.data.get("node"))

    @property
    def unknown_node(self) -> bool:
        """A cluster or node was named that does not exist or that the user may not ask
        about; the views answer 404 for both alike, so the report never confirms one
        exists. A known node paired with another known cluster is a form error instead
        (two selects chosen apart)."""
        cluster, name = self.data.get("cluster"), self.data.get("node")
        known = self._nodes.keys()
        return self.asked and not (
            any(c == cluster for c, _ in known) and any(n == name for _, n in known)
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if until > self.now + CLOCK_SLACK:
                self.add_error("until", "The window cannot end in the future.")
            elif since >= until:
                self.add_error("since", "The window must start before it ends.")
            elif until - since > MAX_WINDOW:
                self.add_error("since", "The window can span at most two years.")
        cluster, name = data.get("cluster"), data.get("node")
        if cluster and name and (cluster, name) not in self._nodes:
            self.add_error("node", f"{name} is not a node of {cluster}; choose one of its nodes.")
        return data

    def question(self) -> tuple[Node, datetime, datetime]:
        """The node and the window asked about, once the form is valid."""
        data = self.cleaned_data
        return self._nodes[(data["cluster"], data["node"])], data["since"], data["until"]
