"""Seeded generator of realistic estates, from a 2-cluster demo to 100,000 guests.

``scenario_plan`` is cheap (no guests built); each :class:`ClusterPlan` builds its
:class:`~pvesim.model.Estate` on ``build()``, so a server can start at once and build large
clusters lazily. The same (scenario, seed, sizes) always yields the same estate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pvesim.model import Estate

CLUSTER_WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
)


@dataclass(frozen=True, slots=True)
class Preset:
    clusters: int
    nodes: int
    guests: int


PRESETS = {
    "small": Preset(clusters=1, nodes=3, guests=30),
    "demo": Preset(clusters=2, nodes=4, guests=200),
    "large": Preset(clusters=20, nodes=16, guests=100_000),
}


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """Everything needed to build one cluster's estate; ``build`` is deterministic."""

    name: str
    index: int
    seed: int
    nodes: int
    guests: int
    pve_major: int

    @property
    def node_names(self) -> list[str]:
        word = self.name.removeprefix("pve-")
        return [f"{word}{i}" for i in range(1, self.nodes + 1)]

    def build(self, *, now: float) -> Estate:
        from pvesim.scenario.guests import Builder

        return Builder(self, now=now).build()


def scenario_plan(
    scenario: str,
    *,
    seed: int = 1,
    clusters: int | None = None,
    guests: int | None = None,
    nodes: int | None = None,
    pve_major: int = 9,
) -> list[ClusterPlan]:
    """Split a scenario into per-cluster plans; ``guests`` is the total over all clusters."""
    try:
        preset = PRESETS[scenario]
    except KeyError:
        raise ValueError(f"unknown scenario '{scenario}' (choose {', '.join(PRESETS)})") from None
    total = preset.guests if guests is None else guests
    count = preset.clusters if clusters is None else clusters
    if guests is not None and clusters is None and scenario == "large":
        count = max(1, math.ceil(total / 5000))
    if count < 1 or total < 0:
        raise ValueError("need at least one cluster and a non-negative guest count")
    per_node = preset.nodes if nodes is None else nodes
    plans = []
    for index in range(count):
        share = total // count + (1 if index < total % count else 0)
        word = CLUSTER_WORDS[index % len(CLUSTER_WORDS)]
        if index >= len(CLUSTER_WORDS):
            word = f"{word}{index // len(CLUSTER_WORDS) + 1}"
        # Two mixed profiles in the demo so the portal sees both PVE generations.
        major = pve_major if scenario != "demo" or index == 0 else 8
        plans.append(
            ClusterPlan(
                name=f"pve-{word}",
                index=index,
                seed=seed * 1000 + index,
                nodes=per_node,
                guests=share,
                pve_major=major,
            )
        )
    return plans


def generate(scenario: str, *, seed: int = 1, now: float, **sizes: int | None) -> list[Estate]:
    """Build every cluster of a scenario at once (tests and small estates)."""
    return [plan.build(now=now) for plan in scenario_plan(scenario, seed=seed, **sizes)]
