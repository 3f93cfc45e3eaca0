"""Reading the fleet's facts (``policy.fact_types``, re-exported here) from the database.

``facts_load`` is the benchmark's "database read": a few big queries over live guests
(``gone_since`` null), each turned into plain tuples with as little Python per row as
possible, because it runs over 100,000 guests. ``facets`` narrows the per-guest rows read
to what the rules at hand use (``policy.rules.facets_for``); a facet not read leaves its
fields empty. Identity clashes are estate-wide whatever the filter; the cluster and
estate-wide parts live in ``policy.facts_estate``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db.models import Count, Field, FilteredRelation, Func, Max, Q, QuerySet
from django.utils import timezone

from governance.accounts.models import Team, User
from inventory.models import (
    Cluster,
    Copy,
    GuestDevice,
    GuestDisk,
    Lineage,
    LineageKind,
    Rollback,
    VirtualMachine,
)
from policy.fact_types import (
    AclFact,
    BackupJobFact,
    ClusterFacts,
    CopyFact,
    DeviceFact,
    DiskFact,
    FleetFacts,
    HaGroupFact,
    HaResourceFact,
    HaRuleFact,
    IdentityClash,
    RollbackFact,
    VmFacts,
    gc_paused,
)
from policy.facts_estate import clusters_load, identity_clashes
from policy.models import (
    Exemption,
    PatchConfirmation,
    Policy,
    Quarantine,
    Violation,
)
from policy.snapshot import Beside, at_once, beside_reader

__all__ = [
    "FACETS",
    "AclFact",
    "BackupJobFact",
    "ClusterFacts",
    "CopyFact",
    "DeviceFact",
    "DiskFact",
    "FleetFacts",
    "HaGroupFact",
    "HaResourceFact",
    "HaRuleFact",
    "IdentityClash",
    "RollbackFact",
    "VmFacts",
    "exemptions_load",
    "facts_load",
    "gc_paused",
]

# The optional parts of the read, by the fields they fill: ``devices``, ``disks`` (and
# ``disk_storages``), ``copies``, ``rollbacks`` (and ``patch_confirmed_at``), ``lineage``
# (``clones``, ``templates``), ``identity`` (``FleetFacts.identity_clashes``) and
# ``remembered`` (``FleetFacts.open_keys``). Placement, config, ownership, clusters,
# quarantines, usernames and team slugs are always read.
FACETS = frozenset(("devices", "disks", "copies", "rollbacks", "lineage", "identity", "remembered"))

# Rule kinds whose evaluation looks at their own open violations (see dormancy_quarantine).
REMEMBERING_KINDS = ("dormancy_quarantine",)

_VM_FIELDS = (
    "pk", "cluster_id", "vmid", "name", "kind", "node__name", "status", "tags_text", "pool",
    "template", "lock", "hastate", "classification", "vmgenid", "smbios_uuid", "has_rng",
    "config_digest", "seen_first", "ran_last",
    "current__owner", "current__custodian", "current__team", "current__lease_end",
)  # fmt: skip

_COPY_FIELDS = (
    "kind", "name", "storage_name", "storage_class", "node", "created", "vmstate", "size",
)  # fmt: skip


def facts_load(
    *,
    cluster_id: int | None = None,
    vm_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    facets: Iterable[str] | None = None,
) -> FleetFacts:
    """Read the facts of every live guest (or of one cluster, or of some guests: ids or a
    ``values("pk")`` queryset); ``facets`` (default: all of ``FACETS``) says which
    optional parts to read."""
    wanted = FACETS if facets is None else frozenset(facets)
    if unknown := wanted - FACETS:
        raise ValueError(f"Unknown facts facets {sorted(unknown)}; known: {sorted(FACETS)}.")
    with gc_paused(), beside_reader() as beside:
        return _facts_load(
            cluster_id=cluster_id, vm_ids=vm_ids, now=now, facets=wanted, beside=beside
        )


def _facts_load(
    *,
    cluster_id: int | None,
    vm_ids: Iterable[int] | None,
    now: datetime | None,
    facets: frozenset[str],
    beside: Beside,
) -> FleetFacts:
    now = now or timezone.now()
    guests = VirtualMachine.objects.filter(gone_since__isnull=True)
    if cluster_id is not None:
        guests = guests.filter(cluster_id=cluster_id)
    if vm_ids is not None:
        # A queryset stays a subquery; anything else is a list of ids.
        guests = guests.filter(pk__in=vm_ids if isinstance(vm_ids, QuerySet) else list(vm_ids))
    everywhere = Cluster.objects.values_list("pk", flat=True)
    cluster_ids = [cluster_id] if cluster_id is not None else list(everywhere)
    # Child rows are read with the guest filter as a subquery (no id lists in Python).
    live = guests.values("pk")

    def child(rows: QuerySet, *fields: str, **extra: object) -> Iterable[tuple]:
        rows = rows.filter(vm__in=live, **extra)
        return rows.order_by().values_list("vm_id", *fields)

    # Guests synced together share their timestamps: convert each distinct one once.
    stamps: dict[float, datetime] = {}
    stamp, fromtimestamp = stamps.get, datetime.fromtimestamp

    def at(epoch: float | None) -> datetime | None:
        if epoch is None:
            return None
        moment = stamps[epoch] = fromtimestamp(epoch, UTC)
        return moment

    def children() -> tuple[dict, ...]:
        """The per-guest child rows of the facets asked for, grouped by guest."""
        devices = disks = copies = rollbacks = confirmed = lineage = {}
        if "devices" in facets:
            devices = _grouped(child(GuestDevice.objects.all(), "key", "kind", "value"), DeviceFact)
        if "disks" in facets:
            disks = _grouped(
                child(GuestDisk.objects.all(), "key", "storage_name", "volume", is_cdrom=False),
                DiskFact,
            )
        if "copies" in facets:
            open_copies = Copy.objects.filter(deleted_at__isnull=True)
            copy_rows = child(open_copies.annotate(created=_Epoch("created_at")), *_COPY_FIELDS)
            copies = _grouped(
                (
                    (vm_id, kind, name, storage, cls, node, stamp(created) or at(created), *rest)
                    for vm_id, kind, name, storage, cls, node, created, *rest in copy_rows
                ),
                CopyFact,
            )
        if "rollbacks" in facets:
            confirmed = dict(
                PatchConfirmation.objects.filter(vm__in=live)
                .order_by()
                .values("vm_id")
                .annotate(last=Max("confirmed_at"))
                .values_list("vm_id", "last")
            )
            rollbacks = _grouped(
                (
                    row
                    for row in child(
                        Rollback.objects.all(),
                        "detected_at",
                        "source",
                        "snapshot_name",
                        "task_upid",
                    )
                    if (seen := confirmed.get(row[0])) is None or row[1] > seen
                ),
                RollbackFact,
            )
        if "lineage" in facets:
            made = (
                Lineage.objects.filter(parent__in=live, child__gone_since__isnull=True)
                .order_by()
                .values("parent_id")
                .annotate(
                    clones=Count("pk", filter=~Q(kind=LineageKind.TEMPLATE_OF)),
                    templates=Count(
                        "pk", filter=Q(kind=LineageKind.TEMPLATE_OF) | Q(child__template=True)
                    ),
                )
                .values_list("parent_id", "clones", "templates")
            )
            lineage = {parent: (clones, templates) for parent, clones, templates in made}
        return devices, disks, copies, rollbacks, confirmed, lineage

    rows = guests.annotate(
        # At most one current ownership per guest (a constraint): a LEFT JOIN, not a query.
        current=FilteredRelation("ownerships", condition=Q(ownerships__until__isnull=True)),
        seen_first=_Epoch("first_seen"),
        ran_last=_Epoch("last_running"),
    )
    # The child rows are read on a second connection while the guests are read here.
    pending = beside(children)
    guest_rows = rows.order_by().values_list(*_VM_FIELDS)
    if beside is not at_once:
        guest_rows = list(guest_rows)
    devices, disks, copies, rollbacks, confirmed, lineage = pending()
    storages = _storage_sets(disks)
    vms = []
    no_lineage = (0, 0)
    empty: frozenset[str] = frozenset()
    tag_sets: dict[str, frozenset[str]] = {"": empty}
    # This loop runs once per guest of the estate: lookups bound once, each record built
    # by tuple.__new__ (C speed) instead of the NamedTuple's keyword-aware __new__.
    new, tag_set = tuple.__new__, tag_sets.get
    devices_of, disks_of, copies_of = devices.get, disks.get, copies.get
    rollbacks_of, confirmed_of = rollbacks.get, confirmed.get
    lineage_of, storages_of = lineage.get, storages.get
    for row in guest_rows:
        pk, tags, first_seen, last_running = row[0], row[7], row[17], row[18]
        tagged = tag_set(tags)
        if tagged is None:
            tagged = tag_sets[tags] = frozenset(tags.split(";"))
        vms.append(
            new(
                VmFacts,
                (
                    pk,
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    row[5] or "",
                    row[6],
                    tagged,
                    *row[8:17],
                    stamp(first_seen) or at(first_seen),
                    stamp(last_running) or at(last_running),
                    *row[19:23],
                    devices_of(pk, ()),
                    disks_of(pk, ()),
                    copies_of(pk, ()),
                    rollbacks_of(pk, ()),
                    confirmed_of(pk),
                    *lineage_of(pk, no_lineage),
                    storages_of(pk, empty),
                ),
            )
        )

    open_keys: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    if "remembered" in facets:
        remembering = Policy.objects.filter(kind__in=REMEMBERING_KINDS).values("pk")
        for policy_id, vm_id, key in Violation.objects.filter(
            policy__in=remembering, resolved_at__isnull=True, vm__in=live
        ).values_list("policy_id", "vm_id", "rule_key"):
            open_keys[policy_id][vm_id].add(key)

    whole_fleet = cluster_id is None and vm_ids is None
    return FleetFacts(
        read_at=now,
        vms=tuple(vms),
        clusters=clusters_load(cluster_ids, now=now),
        identity_clashes=(
            identity_clashes(guests, vms if whole_fleet else None) if "identity" in facets else {}
        ),
        usernames=dict(User.objects.values_list("pk", "username")),
        team_slugs=dict(Team.objects.values_list("pk", "slug")),
        quarantines={
            vm_id: (pk, cause)
            for pk, vm_id, cause in Quarantine.objects.filter(
                lifted_at__isnull=True, vm__in=live
            ).values_list("pk", "vm_id", "cause")
        },
        open_keys={
            policy_id: {vm_id: frozenset(keys) for vm_id, keys in by_vm.items()}
            for policy_id, by_vm in open_keys.items()
        },
    )


def _grouped(rows: Iterable[tuple], fact: type) -> dict[int, tuple]:
    """Rows ``(vm_id, *fields)`` as ``{vm_id: (fact, ...)}`` in row order.

    Most guests have one row, so a tuple grown per row beats lists converted afterwards,
    and ``tuple.__new__`` builds each fact at C speed.
    """
    grouped: dict[int, tuple] = {}
    known, new = grouped.get, tuple.__new__
    for row in rows:
        vm_id = row[0]
        item = new(fact, row[1:])
        before = known(vm_id)
        grouped[vm_id] = (item,) if before is None else (*before, item)
    return grouped


def _storage_sets(disks: dict[int, tuple[DiskFact, ...]]) -> dict[int, frozenset[str]]:
    """The storages each guest's disks live on; one shared set per single storage."""
    single: dict[str, frozenset[str]] = {}
    result = {}
    for vm_id, items in disks.items():
        if len(items) == 1:
            name = items[0].storage
            names = single.get(name)
            if names is None:
                names = single[name] = frozenset((name,))
        else:
            names = frozenset(d.storage for d in items)
        result[vm_id] = names
    return result


class _Epoch(Func):
    """A timestamp as seconds since 1970: the database formats numbers far faster than the
    driver parses 200,000 timestamps, which otherwise is most of the read."""

    # A bare Field: Django would otherwise run a float() converter over every value.
    output_field = Field()

    def as_postgresql(self, compiler, connection, **extra):
        template = "EXTRACT(EPOCH FROM %(expressions)s)::float8"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Whole seconds plus the stored ".ffffff" (julianday's double loses ~40 us); "%%%%"
        # survives both the template and the "%s" placeholder rewriting.
        template = (
            "(CAST(strftime('%%%%s', %(expressions)s) AS REAL)"
            " + CAST(substr(%(expressions)s, 20) AS REAL))"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def exemptions_load(*, now: datetime) -> dict[tuple[int, int], frozenset[str]]:
    """Active exemptions as ``{(policy_id, vm_id): rule keys}``; "" in the keys means all."""
    active: dict[tuple[int, int], set[str]] = defaultdict(set)
    for policy_id, vm_id, key in Exemption.objects.filter(
        until__gt=now, revoked_at__isnull=True
    ).values_list("policy_id", "vm_id", "rule_key"):
        active[(policy_id, vm_id)].add(key)
    return {pair: frozenset(keys) for pair, keys in active.items()}
