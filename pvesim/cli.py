"""Command line: ``python -m pvesim serve ...`` serves one or more clusters over HTTPS.

Example::

    python -m pvesim serve --scenario demo --seed 1 --port 8006 --info var/pvesim.json

Each cluster listens on ``port + index`` (all ephemeral with ``--port 0``). ``--info``
receives JSON with each cluster's URL, certificate fingerprint, CA file, API token and
control key. ``--state`` loads the whole simulation from that file when it exists and
saves it there on shutdown, every ``--save-every`` seconds and on ``POST /_sim/save``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pvesim import control
from pvesim.clock import Clock
from pvesim.cluster import PROFILES, Cluster, load_state, save_state
from pvesim.scenario import scenario_plan
from pvesim.server import ClusterServer, default_certificate
from pvesim.tls import Certificate, load_certificate, make_certificate

log = logging.getLogger("pvesim")
TOKEN_NAME = "steward"  # noqa: S105 - the token's name, not its secret


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pvesim", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve simulated clusters over HTTPS")
    serve.add_argument("--scenario", default="demo", choices=("demo", "small", "large"))
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8006, help="first port (0: ephemeral)")
    serve.add_argument("--clusters", type=int, help="number of clusters (scenario default)")
    serve.add_argument("--guests", type=int, help="total guests over all clusters")
    serve.add_argument("--nodes", type=int, help="nodes per cluster")
    serve.add_argument("--pve", choices=sorted(PROFILES), default="9", help="version profile")
    serve.add_argument("--state", type=Path, help="JSON state file to load and save")
    serve.add_argument("--save-every", type=float, default=60.0, help="seconds (0: never)")
    serve.add_argument("--info", type=Path, help="write connection details (JSON) here")
    serve.add_argument("--cert", type=Path, help="PEM certificate (default: self-signed)")
    serve.add_argument("--key", type=Path, help="PEM private key for --cert")
    serve.add_argument("--speed", type=float, default=1.0, help="simulated time speed")
    serve.add_argument("--auth-delay", type=float, default=3.0, help="401 delay (PVE: ~3 s)")
    serve.add_argument("--password", help="root@pam password (default: random)")
    serve.add_argument("-v", "--verbose", action="store_true")
    return parser


def create_clusters(args: argparse.Namespace, clock: Clock) -> list[Cluster]:
    """Clusters for a scenario; estates are built lazily (in the background after start)."""
    pve_major = PROFILES[args.pve].major
    plans = scenario_plan(
        args.scenario,
        seed=args.seed,
        clusters=args.clusters,
        guests=args.guests,
        nodes=args.nodes,
        pve_major=pve_major,
    )
    clusters = []
    for plan in plans:
        profile = args.pve if plan.pve_major == pve_major else str(plan.pve_major)

        def build(plan: Any = plan) -> Any:
            return plan.build(now=clock.now())

        clusters.append(Cluster(name=plan.name, estate=build, clock=clock, profile=profile))
    return clusters


def _certificate(args: argparse.Namespace) -> Certificate:
    if args.cert:
        return load_certificate(args.cert, args.key or args.cert)
    if args.state:
        # Kept beside the state file so a restarted demo keeps its pinned fingerprint.
        directory = args.state.parent / (args.state.name + ".tls")
        if (directory / "pvesim.pem").exists() and (directory / "pvesim.key").exists():
            return load_certificate(directory / "pvesim.pem", directory / "pvesim.key")
        return make_certificate(directory)
    return default_certificate()


def cluster_info(server: ClusterServer, *, password: str | None, token_secret: str) -> dict:
    cluster = server.cluster
    return {
        "name": cluster.name,
        "pve": cluster.profile.version,
        "url": server.url,
        "host": server.host,
        "port": server.port,
        "fingerprint": server.certificate.fingerprint,
        "ca_file": str(server.certificate.cert_file),
        "user": "root@pam",
        "password": password,
        "token_id": f"root@pam!{TOKEN_NAME}",
        "token_secret": token_secret,
        "control_url": f"https://{server.host}:{server.port}/_sim/",
        "control_key": cluster.control_key,
    }


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


def serve(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.state and args.state.exists():
        clusters, clock = load_state(args.state)
    else:
        clock = Clock(speed=args.speed)
        clusters = create_clusters(args, clock)
    password = args.password or next(
        (
            c.access.users["root@pam"].password
            for c in clusters
            if "root@pam" in c.access.users and c.access.users["root@pam"].password
        ),
        None,
    )
    password = password or secrets.token_urlsafe(12)
    secrets_by_cluster = []
    for cluster in clusters:
        cluster.chaos.auth_delay = args.auth_delay
        root = cluster.access.users.get("root@pam")
        if root is None:
            cluster.access.user_add("root@pam", password=password, comment="Superuser")
        else:
            root.password = password
        secrets_by_cluster.append(cluster.bootstrap_access(root_password=password))
    certificate = _certificate(args)
    servers = []
    for index, cluster in enumerate(clusters):
        port = args.port + index if args.port else 0
        servers.append(
            ClusterServer(cluster, certificate=certificate, host=args.host, port=port).start()
        )
    info = {
        "clusters": [
            cluster_info(s, password=password, token_secret=t)
            for s, t in zip(servers, secrets_by_cluster, strict=True)
        ]
    }
    if args.info:
        _write_json(args.info, info)
    for item in info["clusters"]:
        print(f"{item['name']} (PVE {item['pve']}) {item['url']}", flush=True)
    log.info("listening after %.3f s", time.monotonic() - started)

    # Big estates finish building here while the listeners already accept connections.
    threading.Thread(target=lambda: [c.estate for c in clusters], daemon=True).start()

    stop = threading.Event()

    def save() -> None:
        if args.state:
            save_state(args.state, clusters, clock)

    control.SAVE_HOOKS.append(save)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(args.save_every or None):
        save()
    for server in servers:
        server.stop()
    save()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if args.command == "serve":
        return serve(args)
    return 2
