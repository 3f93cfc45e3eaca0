"""Live updates under a burst: N signed-in websocket clients on daphne, a burst of VM
changes published to the role group they share; how late, how often and how lossy.

Usage: ``python bench/live_bench.py [--clients 500] [--changes 10000] [--targets 20]
[--batch 100] [--redis-db 6 | --embedded]``.

The web process is daphne serving the project's ASGI app, as in production; the
clients and the publisher run here, in one event loop, and talk to daphne over
loopback. The channel layer must be shared by two processes: Redis (database
``--redis-db``), or with ``--embedded`` the SQLite layer (slow, for the smoke test).

The burst: ``--changes`` VM changes over ``--targets`` clusters, published the way
sync publishers do, one event per cluster and batch of ``--batch`` changes, keyed by
cluster so a connection coalesces them (``--batch 500`` is what the sync publisher does
with 10,000 changes over 20 clusters: one event per cluster and run). Each event carries
its publish time and how many of its cluster's changes it covers (``upto``). A client
the server disconnects counts as told to resync, as a browser reconnects and refetches.

Figures: ``latency_p50_s``/``latency_p95_s``: per change and client, from its publish
to the first frame that brings its cluster's ``upto`` to it or beyond; frames per client
(``frames_per_client_per_s_max``: the most frames one client got in any one second);
``detected_losses``: clients told to resync (a ``resync`` frame or a skipped ``seq``);
``undetected_gaps``: clients whose last state of some cluster is older than the last
published and that were never told to resync (the goal is 0).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import harness

EVENT = "bench.changed"
ROLE = "auditor"
P95_TARGET_S = 2.0


@dataclass
class Client:
    """One browser tab: the frames it got, with their arrival times."""

    seqs: list[int] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    # cluster key -> [(arrival, upto)], in arrival order
    states: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    told_to_resync: bool = False
    # The server closed the socket (a browser reconnects, then resyncs).
    dropped: bool = False

    def take(self, frame: dict[str, Any], now: float) -> None:
        expected = (self.seqs[-1] + 1) if self.seqs else 1
        if frame.get("resync") or frame.get("seq") != expected:
            self.told_to_resync = True
        self.seqs.append(frame.get("seq", -1))
        self.arrivals.append(now)
        for event in frame.get("events", []):
            payload = event["payload"]
            if event["event"] == EVENT:
                self.states.setdefault(payload["key"], []).append((now, payload["upto"]))


async def _read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    return await reader.readexactly(size)


async def _frames(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """Text messages of a websocket (RFC 6455, server side unmasked); answers pings."""
    while True:
        head = await _read_exactly(reader, 2)
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await _read_exactly(reader, 2), "big")
        elif length == 127:
            length = int.from_bytes(await _read_exactly(reader, 8), "big")
        data = await _read_exactly(reader, length)
        if opcode == 0x8:
            return
        if opcode == 0x9:  # ping: a masked pong with the same data (zero mask)
            writer.write(bytes([0x8A, 0x80 | len(data)]) + b"\0\0\0\0" + data)
        elif opcode == 0x1:
            yield data


async def client_run(port: int, cookie: str, client: Client, ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws/live/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={cookie}\r\n\r\n"
        ).encode()
    )
    status = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise RuntimeError(f"websocket refused: {status!r}")
    ready.set()
    try:
        async for data in _frames(reader, writer):
            client.take(json.loads(data), time.time())
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
    client.dropped = client.told_to_resync = True


def sessions_make(count: int) -> list[str]:
    """``count`` signed-in users holding ROLE; their session keys."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client as HttpClient

    group, _ = Group.objects.get_or_create(name=ROLE)
    keys = []
    for n in range(count):
        user = get_user_model().objects.create_user(username=f"live-bench-{n}")
        user.groups.add(group)
        http = HttpClient()
        http.force_login(user)
        keys.append(http.cookies["sessionid"].value)
    return keys


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def daphne_start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    command.append("governance.asgi:application")
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own web process
            command, cwd=harness.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited:\n{log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("daphne did not start within 60 s")


async def burst_publish(args: argparse.Namespace) -> tuple[list[tuple[str, int, float]], float]:
    """Publish the burst as fast as the layer takes it; every event's (key, upto, time)."""
    from channels.layers import get_channel_layer

    from governance.core.realtime import event_message, role_group

    layer = get_channel_layer()
    per_target = [0] * args.targets
    published = []
    started = time.time()
    for n in range(0, args.changes, args.batch):
        target = (n // args.batch) % args.targets
        per_target[target] += min(args.batch, args.changes - n)
        key, now = f"cluster.{target}", time.time()
        payload = {"key": key, "upto": per_target[target], "t": now}
        group = role_group(ROLE)
        await layer.group_send(group, event_message(group, EVENT, payload))
        published.append((key, per_target[target], now))
    return published, time.time() - started


def latencies(clients: list[Client], published: list[tuple[str, int, float]]) -> list[float]:
    """Per change event and client that got it: publish -> first frame covering it."""
    values = []
    for client in clients:
        for key, upto, at in published:
            arrival = next((t for t, got in client.states.get(key, []) if got >= upto), None)
            if arrival is not None:
                values.append(arrival - at)
    return values


def undetected(clients: list[Client], published: list[tuple[str, int, float]]) -> int:
    final = {key: upto for key, upto, _ in published}
    gaps = 0
    for client in clients:
        behind = any(
            max((got for _, got in client.states.get(key, [])), default=0) < upto
            for key, upto in final.items()
        )
        gaps += behind and not client.told_to_resync
    return gaps


def max_frames_in_a_second(client: Client) -> int:
    best, start = 0, 0
    for end, arrival in enumerate(client.arrivals):
        while arrival - client.arrivals[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def min_gap(client: Client) -> float:
    pairs = zip(client.arrivals, client.arrivals[1:], strict=False)
    return min((later - earlier for earlier, later in pairs), default=float("inf"))


async def measure(args: argparse.Namespace, port: int, cookies: list[str]) -> dict[str, Any]:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if hasattr(layer, "flush"):  # the bench's own Redis database: no earlier run's groups
        await layer.flush()
    clients = [Client() for _ in cookies]
    tasks = []
    for client, cookie in zip(clients, cookies, strict=True):
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(client_run(port, cookie, client, ready)))
        await asyncio.wait_for(ready.wait(), timeout=60)
    await asyncio.sleep(args.settle)  # group_add happens before accept; let joins land
    published, publish_s = await burst_publish(args)
    last = published[-1][2]
    # Done when every connected client holds every cluster's final state, or at --drain.
    final = {key: upto for key, upto, _ in published}
    deadline = time.time() + args.drain
    while time.time() < deadline:
        done = all(
            all(client.states.get(k, [(0, 0)])[-1][1] >= u for k, u in final.items())
            for client in clients
            if not client.dropped
        )
        if done:
            break
        await asyncio.sleep(0.2)
    drained_s = time.time() - last
    await asyncio.sleep(args.flush_wait)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    values = latencies(clients, published)
    frames = [len(client.seqs) for client in clients]
    window = max(last - published[0][2], 0) + drained_s
    return {
        "clients": len(clients),
        "changes": args.changes,
        "events_published": len(published),
        "publish_s": round(publish_s, 3),
        "drain_after_last_publish_s": round(drained_s, 3),
        "latency_p50_s": round(harness.percentile(values, 0.50), 3),
        "latency_p95_s": round(harness.percentile(values, 0.95), 3),
        "latency_max_s": round(max(values, default=0.0), 3),
        "deliveries_measured": len(values),
        "deliveries_expected": len(published) * len(clients),
        "clients_disconnected_by_server": sum(client.dropped for client in clients),
        "frames_per_client_max": max(frames, default=0),
        "frames_per_client_per_s_avg": round(sum(frames) / len(frames) / max(window, 1.0), 3),
        "frames_per_client_per_s_max": max(map(max_frames_in_a_second, clients), default=0),
        # Arrival times: loopback and a loaded loop add jitter to the server's 1 s pace.
        "min_gap_between_frames_s": round(min(map(min_gap, clients), default=0.0), 3),
        "detected_losses": sum(client.told_to_resync for client in clients),
        "undetected_gaps": undetected(clients, published),
        "meets_target": harness.percentile(values, 0.95) <= P95_TARGET_S
        and undetected(clients, published) == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--embedded", action="store_true", help="SQLite channel layer")
    parser.add_argument("--redis-db", type=int, default=6)
    parser.add_argument("--settle", type=float, default=1.0)
    # Past the channel layer's message expiry (60 s) what is not delivered is lost.
    parser.add_argument("--drain", type=float, default=90.0)
    parser.add_argument("--flush-wait", type=float, default=1.5)
    args = parser.parse_args()
    harness.use_services(None if args.embedded else args.redis_db)
    with harness.scratch_database() as env:
        cookies = sessions_make(args.clients)
        port = _free_port()
        log = Path(os.environ.get("BENCH_RESULTS_DIR", tempfile.gettempdir()))
        log /= "live_bench_daphne.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        server = daphne_start(env, port, log)
        try:
            figures = asyncio.run(measure(args, port, cookies))
        finally:
            server.terminate()
            server.wait(timeout=30)
    figures["channel_layer"] = "sqlite" if args.embedded else "redis"
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
