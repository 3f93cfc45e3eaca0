"""The demo supervisor (``tools/demo.py``) as an operator runs it: start, use, Ctrl-C.

Runs on the embedded defaults in a temporary data directory (the demo never touches a
configured PostgreSQL or Redis here), on a free loopback port.
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
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "steward-demo-2025"  # published by seed_demo
STARTUP_TIMEOUT = 120.0
# Settings that would point the demo at shared services instead of its own files.
SCRUBBED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) for every live process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return table


class Demo:
    """A running ``tools/demo.py`` with its output collected line by line."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        self.env.update(STEWARD_DATA_DIR=str(data_dir), PORT=str(self.port), HOST="127.0.0.1")
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "demo.py")],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.process.poll() is not None:
                pytest.fail(
                    f"demo exited ({self.process.returncode}) before {what}:\n{self.output}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:.0f}s:\n{self.output}")
            time.sleep(0.2)

    def wait_until_ready(self) -> None:
        self.wait_for(lambda: "Steward is running at" in self.output, "banner", STARTUP_TIMEOUT)
        self.wait_for(
            lambda: any(" worker |" in line and " ready." in line for line in self.lines),
            "worker ready",
            STARTUP_TIMEOUT,
        )

    def children(self) -> dict[int, str]:
        """pid -> name of the supervisor's direct children (each leads its own group)."""
        table = process_table()
        return {
            pid: Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
            for pid, (ppid, _) in table.items()
            if ppid == self.process.pid
        }

    def get(self, path: str) -> int:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status

    def stop(self) -> None:
        """Stop as an operator would (one SIGINT); kill whatever is left after that."""
        children = self.children()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    # Shared by the tests of this module: the second start finds the data migrated.
    return tmp_path_factory.mktemp("demo-data")


@pytest.fixture(scope="module")
def demos(data_dir) -> Iterator[list[Demo]]:
    """Every demo the module started; whatever the tests did, none is left running."""
    started: list[Demo] = []
    try:
        yield started
    finally:
        for running in started:
            running.stop()


@pytest.fixture
def demo(demos, data_dir) -> Demo:
    """A running demo: the module's last one while it still runs, else a new one. A
    start costs the better part of a minute, and a test that ends the demo (Ctrl-C, a
    dying child) leaves the next one to start afresh."""
    if not demos or demos[-1].process.poll() is not None:
        demos.append(Demo(data_dir))
    return demos[-1]


def assert_all_gone(groups: set[int]) -> None:
    left = {pid: pgrp for pid, (_, pgrp) in process_table().items() if pgrp in groups}
    assert not left, f"processes outlived the demo: {left}"


def _sign_in_and_send_through_the_worker(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(base_url=base)
            page.set_default_timeout(15_000)
            page.goto("/accounts/login/")
            page.get_by_label("Username").fill("alice")
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{base}/")
            expect(page.locator("[data-live-status]")).to_have_attribute(
                "data-live-status", "online"
            )
            text = f"demo round trip {uuid.uuid4().hex[:8]}"
            page.get_by_label("Message").fill(text)
            page.get_by_role("button", name="Send through the worker").click()
            expect(page.get_by_test_id("activity")).to_contain_text(text, timeout=30_000)
        finally:
            browser.close()


@pytest.mark.browser
def test_a_demo_user_signs_in_and_a_worker_task_reaches_the_browser_live(demo):
    """What `make demo` promises: log in, the worker runs a task, the websocket delivers it."""
    demo.wait_until_ready()
    # A thread of its own: the browser tests' session-wide Playwright keeps an event loop
    # running in this one, and Playwright's sync API refuses to start inside a loop.
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            _sign_in_and_send_through_the_worker(f"http://127.0.0.1:{demo.port}")
        except BaseException as exc:
            errors.append(exc)

    driver = threading.Thread(target=drive, name="demo-browser")
    driver.start()
    driver.join(timeout=120)
    assert not driver.is_alive(), "the browser session did not finish"
    if errors:
        raise errors[0]
    assert "governance.core.tasks.ping_user" in demo.output  # run by the demo's own worker


def test_demo_serves_runs_a_task_and_stops_everything_on_one_ctrl_c(demo):
    demo.wait_until_ready()
    children = demo.children()
    names = " ".join(children.values())
    assert "daphne" in names
    assert "worker" in names
    assert "beat" in names
    assert "alice" in demo.output  # the demo logins are printed
    # The synced demo VMs have owners (a later start finds them owned and says 0).
    assert "VMs given owners" in demo.output

    assert demo.get("/accounts/login/") == 200

    # The worker is a real process consuming the embedded broker: a task sent from
    # outside is executed there.
    sent = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "governance",
            "call",
            "governance.core.tasks.heartbeat",
        ],
        cwd=ROOT,
        env=demo.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # `celery call` prints the task id: this task's own line, not beat's heartbeats.
    task_id = sent.stdout.strip().splitlines()[-1]
    demo.wait_for(
        lambda: any(task_id in line and "succeeded" in line for line in demo.lines),
        "task result in the worker log",
        60,
    )

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=60) == 0, demo.output
    assert "stopped on SIGINT" in demo.output
    assert_all_gone(set(children))


def test_a_dying_child_stops_the_others_and_fails(demo):
    demo.wait_until_ready()
    children = demo.children()
    worker = next(pid for pid, cmd in children.items() if " worker" in cmd)

    os.killpg(worker, signal.SIGKILL)

    assert demo.process.wait(timeout=60) == 1, demo.output
    assert "worker exited" in demo.output
    assert_all_gone(set(children))


def test_a_busy_port_is_reported_before_anything_starts(data_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        env.update(STEWARD_DATA_DIR=str(data_dir), PORT=str(port), HOST="127.0.0.1")
        result = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "demo.py")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stdout
    assert "migrate" not in result.stdout
