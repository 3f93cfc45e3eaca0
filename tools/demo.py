"""Run the whole Steward demo from one command: ``make demo`` (or ``python tools/demo.py``).

Prepares the databases and demo data, then supervises the processes of a real
deployment as children: the daphne web server, a Celery worker, Celery beat and,
when the simulator has a CLI, pvesim with the demo scenario. Their output is
forwarded line by line with a name prefix.

Invariants: one Ctrl-C (SIGINT) or SIGTERM stops every child and the supervisor
exits 0; if any child dies on its own, the others are stopped and the supervisor
exits 1. Each child runs in a session of its own, so a terminal's Ctrl-C reaches
only the supervisor, which stops the children in order and kills whole process
groups (Celery's pool processes included) that outlive the grace period.

Environment: ``HOST`` (default 127.0.0.1) and ``PORT`` (default 8000) for the web
server; everything else is the portal's own configuration (see README).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from governance.settings import env  # noqa: E402  (needs ROOT on sys.path)

PYTHON = sys.executable
MANAGE = [PYTHON, str(ROOT / "manage.py")]
STOP_GRACE_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 60.0


class DemoError(Exception):
    """A step or a service failed; the message says which and how, in one line."""


class Interrupted(Exception):
    """A signal arrived while a set-up step ran; not a failure."""


class Console:
    """Serialises lines from several pump threads onto one stream."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        with self._lock:
            self._stream.write(f"{prefix:>8} | {text}\n" if prefix else f"{text}\n")
            self._stream.flush()


class Child:
    """One supervised process and the thread that forwards its output."""

    def __init__(self, name: str, argv: Sequence[str]) -> None:
        self.name = name
        self.argv = list(argv)
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._pump: threading.Thread | None = None

    def start(self, *, console: Console, environ: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603  (argv built here, no shell)
            self.argv,
            cwd=ROOT,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self._pump = threading.Thread(
            target=self._forward, args=(console,), name=f"pump-{self.name}", daemon=True
        )
        self._pump.start()

    def _forward(self, console: Console) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            self.lines.append(line)
            console.line(self.name, line)

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def reap(self, *, deadline: float) -> bool:
        """Wait for the child until ``deadline`` (monotonic), then SIGKILL its whole group.

        Returns whether the child had to be killed.
        """
        if self.process is None:
            return False
        killed = False
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid)
            self.process.wait()
            killed = True
        # Pool processes or grandchildren that outlived their parent share its group id.
        _kill_group(self.process.pid)
        if self._pump is not None:
            self._pump.join(timeout=2)
        return killed

    def stop(self, *, grace: float) -> None:
        self.terminate()
        self.reap(deadline=time.monotonic() + grace)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class Supervisor:
    """Runs set-up steps to completion, then services until a signal or a death."""

    def __init__(self, *, console: Console, environ: dict[str, str]) -> None:
        self.console = console
        self.environ = environ
        self.services: list[Child] = []
        self._stop = threading.Event()
        self._signal_name = ""

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signal_name = signal.Signals(signum).name
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def signal_name(self) -> str:
        return self._signal_name

    def say(self, text: str) -> None:
        self.console.line("demo", text)

    def step(self, name: str, argv: Sequence[str]) -> Child:
        """Run a set-up command to completion; raise DemoError if it fails."""
        child = Child(name, argv)
        child.start(console=self.console, environ=self.environ)
        while child.poll() is None:
            if self._stop.wait(0.1):
                child.stop(grace=STOP_GRACE_SECONDS)
                raise Interrupted(name)
        child.stop(grace=0)  # drains the pump; the process has already exited
        if child.poll() != 0:
            raise DemoError(f"{name} failed with exit code {child.poll()}")
        return child

    def start(self, name: str, argv: Sequence[str]) -> None:
        child = Child(name, argv)
        child.start(console=self.console, environ=self.environ)
        self.services.append(child)

    def wait_for_http(self, url: str, *, timeout: float) -> None:
        """Block until ``url`` answers 200, a service dies, or a signal arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_services()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (loopback)
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self._stop.wait(0.25):
                return
        raise DemoError(f"the web server did not answer {url} within {timeout:.0f}s")

    def _check_services(self) -> None:
        for child in self.services:
            code = child.poll()
            if code is not None and not self.stopping:
                raise DemoError(f"{child.name} exited with code {code}; stopping the others")

    def watch(self) -> None:
        """Return when a signal arrives; raise DemoError when a service dies first."""
        while not self._stop.wait(0.25):
            self._check_services()

    def shutdown(self) -> None:
        """Ask every service to stop at once; kill what is left after the grace period."""
        for child in self.services:
            child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.services:
            if child.reap(deadline=deadline):
                self.say(f"{child.name} did not stop within {STOP_GRACE_SECONDS:.0f}s; killed")


def _pvesim_argv(info_file: Path) -> list[str] | None:
    """The simulator's command when pvesim ships a CLI, else None (the demo runs without it).

    Ports are ephemeral so a second demo or a test run never collides; the info file
    says where each simulated cluster listens and how to sign in.
    """
    if not (ROOT / "pvesim" / "cli.py").exists():
        return None
    return [
        *[PYTHON, "-m", "pvesim", "serve", "--scenario", "demo"],
        *["--host", "127.0.0.1", "--port", "0", "--info", str(info_file)],
    ]


def _banner(sup: Supervisor, url: str, seed: Child | None) -> None:
    sup.say("")
    sup.say(f"Steward is running at {url}")
    if seed is not None and seed.lines:
        sup.say("Demo logins (from seed_demo):")
        for line in seed.lines:
            sup.say(f"  {line}")
    mfa_roles = ", ".join(env.MFA_REQUIRED_ROLES) or "nobody, passwords suffice"
    sup.say(f"Second factor (MFA_REQUIRED_ROLES) required of: {mfa_roles}")
    sup.say("Press Ctrl-C once to stop everything.")
    sup.say("")


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the server will: connections of a previous run in TIME_WAIT do not block it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another with PORT=..."
            ) from exc


def run(sup: Supervisor, *, host: str, port: int) -> None:
    """Prepare the data and run every service until a signal (returns) or a failure (raises)."""
    _check_port_free(host, port)
    sup.step("migrate", [*MANAGE, "migrate", "--noinput"])
    if not env.REDIS_URL:
        # The embedded channel layer keeps its tables in a SQLite file of its own; naming
        # its app skips replaying every other app's migrations there as no-ops.
        channels = ["migrate", "channels_lite", "--database", "channels", "--noinput"]
        sup.step("migrate", [*MANAGE, *channels])
    if not env.DEBUG:
        # With DEBUG on, WhiteNoise serves straight from the finders: nothing to collect.
        sup.step("static", [*MANAGE, "collectstatic", "--noinput"])
    seed = None
    if env.DEBUG:
        seed = sup.step("seed", [*MANAGE, "seed_demo"])
    else:
        sup.say("DEBUG is off: no demo users (their passwords are public); use createsuperuser")

    celery = [PYTHON, "-m", "celery", "-A", "governance"]
    sup.start(
        "web", [PYTHON, "-m", "daphne", "-b", host, "-p", str(port), "governance.asgi:application"]
    )
    sup.start("worker", [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"])
    sup.start("beat", [*celery, "beat", "--loglevel", "INFO"])
    info_file = env.DATA_DIR / "pvesim.json"
    pvesim = _pvesim_argv(info_file)
    if pvesim is not None:
        info_file.unlink(missing_ok=True)  # a stale file would point at dead ports
        sup.start("pvesim", pvesim)
        # Registration queues each cluster's first sync: the pages fill while you look.
        sup.step(
            "clusters",
            [*MANAGE, "register_demo_clusters", "--info", str(info_file), "--wait", "60"],
        )
        if seed is not None:
            # Owners, approved storage and audit policies once synced: no page is empty.
            sup.step("estate", [*MANAGE, "seed_demo_estate", "--wait", "60"])

    probe_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    url = f"http://{probe_host}:{port}/"
    sup.wait_for_http(f"{url}healthz", timeout=READY_TIMEOUT_SECONDS)
    if not sup.stopping:
        _banner(sup, url, seed)
        sup.watch()


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "governance.settings",
        "PYTHONUNBUFFERED": "1",
    }
    sup = Supervisor(console=Console(sys.stdout), environ=environ)
    sup.install_signal_handlers()
    code = 0
    try:
        run(sup, host=host, port=port)
    except Interrupted as exc:
        sup.say(f"{sup.signal_name} during {exc}; nothing started")
    except DemoError as exc:
        sup.say(f"error: {exc}")
        code = 1
    finally:
        sup.shutdown()
    if code == 0:
        sup.say(f"stopped on {sup.signal_name}; every process has ended")
    return code


if __name__ == "__main__":
    sys.exit(main())
