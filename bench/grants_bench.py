"""Time-limited access grants removed within 60 s of their end, measured in Proxmox.

Seeds a scratch test database (PostgreSQL when ``DATABASE_URL`` is set, else SQLite) and
serves one pvesim cluster (its clock runs at real time) synced into the inventory. Then
schedules ``--grants`` access grants (one user each, two users per running guest) that
start within ``--start-spread`` seconds and end spread over ``--end-spread`` seconds, and
runs one real Celery worker and celery beat with the production schedule (its
``approvals-grants-reconcile`` entry, every 15 s, does the work; broker on Redis database
``--redis-db``). Nothing else moves the grants.

Every ``--poll`` seconds this process reads Proxmox's ACL list over the API and records
for each grant when its entry appeared (start delay: after ``starts_at``) and
disappeared (end delay: after ``ends_at``). Each grantee opens a VNC console with their
own token once the entry is there; its proxy task must be stopped at the end (its end
time read from the simulator's task table). A second group of ``--downtime-grants``
ends while the worker is stopped for ``--downtime`` seconds (beat keeps queueing); their
end delay is the catch-up after a restart. Prints one JSON object; the target: no grant
of the first group removed later than 60 s after its end.

Usage: ``python bench/grants_bench.py [--grants N] [--downtime-grants M] [--downtime S]``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402 - after the path is set
from bench.grants_observe import (  # noqa: E402
    Consoles,
    Tracked,
    acl_entries,
    consoles_ended,
)

ROLE = "PVEVMUser"
TARGET_END_DELAY_S = 60.0
#: Beat's first ``grants_reconcile`` is one interval after it starts; starts are later.
FIRST_START_S = 20.0
_RECONCILE = re.compile(r"Task approvals\.grants_reconcile\[[^\]]+\] succeeded in ([0-9.]+)s")


def _estate(guests_needed: int):
    """A pvesim cluster on a real-time clock with ``guests_needed`` running QEMU guests
    that HA does not manage (HA could stop or move them)."""
    from pvesim.clock import Clock
    from pvesim.testing import SimFarm

    farm = SimFarm(clock=Clock(start=time.time(), speed=1.0))
    sim = farm.start(identity="root", guests=guests_needed * 3 + 50, nodes=4)
    estate = sim.cluster.estate
    running = [
        g
        for g in estate.guests.values()
        if g.kind == "qemu"
        and g.running
        and not g.config.get("template")
        and f"vm:{g.vmid}" not in estate.ha_resources
    ]
    if len(running) < guests_needed:
        raise SystemExit(f"only {len(running)} running QEMU guests; raise the guest count")
    return farm, sim, [g.vmid for g in running[:guests_needed]]


def _seed(args, sim, vmids: list[int]) -> list[Tracked]:
    """Users and grants, their times as offsets until :func:`_schedule` fixes them: the
    first group ends over ``--end-spread`` seconds, the second while the worker is down."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from governance.approvals.models import AccessGrant
    from inventory.models import VirtualMachine
    from policy.rights import pve_userid, vm_acl_path

    cluster = harness.cluster_register(sim)
    vms = {vm.vmid: vm for vm in VirtualMachine.objects.filter(cluster=cluster, vmid__in=vmids)}
    total = args.grants + args.downtime_grants
    User = get_user_model()
    # Unusable passwords: hashing 200 real ones would dominate the setup.
    unusable = make_password(None)
    users = User.objects.bulk_create(
        User(username=f"grantee{i:04d}", email=f"grantee{i:04d}@example.org", password=unusable)
        for i in range(total)
    )
    down_from = _down_at(args)
    placeholder = datetime.now(UTC) + timedelta(days=1)
    tracked = []
    for i, user in enumerate(users):
        vm = vms[vmids[i // 2]]
        starts = FIRST_START_S + args.start_spread * i / total
        if i < args.grants:
            ends = args.first_end + args.end_spread * i / max(1, args.grants)
        else:
            j = i - args.grants
            # Inside the downtime, leaving 5 s on either side.
            ends = down_from + 5 + (args.downtime - 10) * j / max(1, args.downtime_grants)
        grant = AccessGrant.objects.create(
            user=user,
            vm=vm,
            role=ROLE,
            starts_at=placeholder,
            ends_at=placeholder + timedelta(hours=1),
            proxmox_userid=pve_userid(user.username),
            acl_path=vm_acl_path(vm.vmid),
        )
        tracked.append(
            Tracked(
                grant.pk,
                grant.proxmox_userid,
                grant.acl_path,
                vm.vmid,
                starts,
                ends,
                downtime=i >= args.grants,
            )
        )
    return tracked


def _schedule(grants: list[Tracked], t0: float) -> None:
    """Make the offsets absolute from ``t0`` (when beat starts) and store them."""
    from governance.approvals.models import AccessGrant

    rows = []
    for grant in grants:
        grant.starts += t0
        grant.ends += t0
        rows.append(
            AccessGrant(
                pk=grant.grant_id,
                starts_at=datetime.fromtimestamp(grant.starts, UTC),
                ends_at=datetime.fromtimestamp(grant.ends, UTC),
            )
        )
    AccessGrant.objects.bulk_update(rows, ["starts_at", "ends_at"], batch_size=500)


def _down_at(args) -> float:
    """Seconds after the start when the worker stops: after the first group's last end
    had one full interval to be handled."""
    return args.first_end + args.end_spread + 20


def _poll(
    args, sim, grants: list[Tracked], consoles: Consoles, worker: harness.Worker, t0: float
) -> tuple[float, list[float]]:
    """Watch Proxmox until every grant's entry is gone (or the deadline); stop the worker
    for the downtime. Returns the measured downtime and each observation's duration."""
    periods: list[float] = []
    down_at, down_s = t0 + _down_at(args), 0.0
    deadline = max(g.ends for g in grants) + 2 * TARGET_END_DELAY_S
    stopped_at = None
    while time.time() < deadline:
        now = time.time()
        if args.downtime_grants and stopped_at is None and now >= down_at:
            print("stopping the worker", file=sys.stderr)
            worker.stop()
            stopped_at = time.time()
        elif stopped_at is not None and not down_s and now >= stopped_at + args.downtime:
            print("restarting the worker", file=sys.stderr)
            worker.start()
            down_s = time.time() - stopped_at
        entries = acl_entries(sim)
        seen = time.time()
        periods.append(seen - now)
        for grant in grants:
            present = (grant.path, grant.userid, ROLE) in entries
            if grant.seen_at is None and present:
                grant.seen_at = seen
                consoles.open_for(grant)
            elif grant.seen_at is not None and grant.gone_at is None and not present:
                grant.gone_at = seen
        if all(g.gone_at for g in grants):
            # The consoles are stopped right after the entry is deleted, in the same run.
            consoles_ended(sim, grants)
            if all(g.console is None or g.console_stopped_at for g in grants):
                break
        time.sleep(max(0.0, args.poll - (time.time() - now)))
    return down_s, periods


def _delays(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(harness.percentile(values, 0.95), 2),
        "max": round(max(values), 2),
    }


def _report(args, grants: list[Tracked], logs: list[Path], down_s: float, wall: float) -> dict:
    from django.db.models import Count

    from governance.approvals.models import AccessGrant

    def group(downtime: bool) -> dict:
        mine = [g for g in grants if g.downtime == downtime]
        ends = [g.gone_at - g.ends for g in mine if g.gone_at]
        consoles = [g for g in mine if g.console]
        return {
            "grants": len(mine),
            "started_in_proxmox": sum(1 for g in mine if g.seen_at),
            "start_delay_s": _delays([g.seen_at - g.starts for g in mine if g.seen_at]),
            "removed_from_proxmox": len(ends),
            "end_delay_s": _delays(ends),
            "ends_over_60s": sum(1 for d in ends if d > TARGET_END_DELAY_S),
            "never_removed": len(mine) - len(ends),
            "removed_early": sum(1 for d in ends if d < 0),
            "consoles_opened": len(consoles),
            "consoles_stopped": sum(1 for g in consoles if g.console_stopped_at),
            "console_stop_delay_s": _delays(
                [g.console_stopped_at - g.ends for g in consoles if g.console_stopped_at]
            ),
        }

    runs = [float(m) for log in logs if log.exists() for m in _RECONCILE.findall(log.read_text())]
    on_time = group(False)
    figures = {
        "beat_interval_s": 15.0,
        "start_spread_s": args.start_spread,
        "end_spread_s": args.end_spread,
        "poll_s": args.poll,
        "wall_s": round(wall, 1),
        "on_time": on_time,
        "grant_states": dict(AccessGrant.objects.values_list("state").annotate(n=Count("id"))),
        "reconcile_runs": len(runs),
        "reconcile_p50_ms": round(statistics.median(runs) * 1000, 1) if runs else None,
        "reconcile_max_ms": round(max(runs) * 1000, 1) if runs else None,
        "target_end_delay_s": TARGET_END_DELAY_S,
        "meets_target": on_time["ends_over_60s"] == 0
        and on_time["never_removed"] == 0
        and on_time["removed_early"] == 0
        and on_time["consoles_stopped"] == on_time["consoles_opened"] == on_time["grants"],
    }
    if args.downtime_grants:
        figures["worker_down"] = {"down_s": round(down_s, 1), **group(True)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=200)
    parser.add_argument("--downtime-grants", type=int, default=40)
    parser.add_argument("--downtime", type=float, default=40.0)
    parser.add_argument("--start-spread", type=float, default=30.0)
    parser.add_argument("--first-end", type=float, default=70.0)
    parser.add_argument("--end-spread", type=float, default=120.0)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="filesystem broker and SQLite channel layer instead of Redis (smoke tests)",
    )
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()
    harness.use_services(None if args.embedded else args.redis_db)
    with harness.scratch_database() as env:
        print(json.dumps(_run(args, env)))


def _run(args: argparse.Namespace, env: dict[str, str]) -> dict:
    from governance.celery import app

    app.control.purge()
    log_dir = Path(tempfile.mkdtemp(prefix="grants-bench-"))
    farm, sim, vmids = _estate((args.grants + args.downtime_grants + 1) // 2)
    worker, beat = harness.Worker("grants", env=env, log_dir=log_dir), None
    consoles = Consoles(sim)
    try:
        grants = _seed(args, sim, vmids)
        t0 = time.time()
        _schedule(grants, t0)
        print(f"{len(grants)} grants scheduled", file=sys.stderr)
        worker.start()
        beat = harness.celery_start(
            ["beat", "--schedule", str(log_dir / "celerybeat-schedule")],
            env=env,
            log=log_dir / "beat.log",
        )
        consoles.start()
        down_s, periods = _poll(args, sim, grants, consoles, worker, t0)
        consoles_ended(sim, grants)
        wall = time.time() - t0
    finally:
        consoles.stopping = True
        worker.stop()
        if beat is not None:
            harness.celery_stop([beat])
        farm.stop()
    figures = _report(args, grants, worker.logs, down_s, wall)
    # Delays are as exact as the observations are frequent.
    figures["observation_s"] = {
        "mean": round(statistics.fmean(periods), 2) if periods else None,
        "max": round(max(periods), 2) if periods else None,
    }
    figures["console_open_failures"] = consoles.failures[:5]
    return figures


if __name__ == "__main__":
    main()
