"""Shared fixtures for browser tests: a real daphne server, a real Celery worker, Chromium.

pytest-django's ``live_server`` is a threaded WSGI server without websockets, so these
tests run the production ASGI stack in subprocesses instead, against their own data:
a temporary SQLite file (and a SQLite channel layer and filesystem broker) by default;
with ``DATABASE_URL`` a scratch PostgreSQL database created on that server and dropped
afterwards; with ``REDIS_URL`` a Redis database index claimed for this run only, because
a shared broker or channel layer would let a concurrent run's worker steal our tasks.

Fixtures (session-scoped unless said otherwise):
- ``browser_stack``: the prepared environment (migrated, users seeded): ``.env``,
  ``.data_dir``, ``.logs``.
- ``daphne_server``: base URL (``http://127.0.0.1:<port>``) of a running daphne.
- ``celery_worker_process``: a running ``celery worker --pool=solo`` (the Popen).
- ``chromium``: a Playwright ``Browser`` (Debian's /usr/bin/chromium, headless).
- ``page`` (function): a fresh context and page on ``daphne_server``.
- ``sign_in`` (function): ``sign_in(page, role)`` logs in through the login page (as
  the seeded user of ``role``, or ``username=`` for one a test made itself).
- ``unique_name`` (function): ``unique_name("pve")`` -> ``"pve-3f9c1a2b"``, a slug no
  other test uses.
- ``make_user`` (function): ``make_user(role)`` creates a fresh user in ``role``'s group
  and returns its username.
``BROWSER_USERS`` maps each role to the seeded username; all share ``BROWSER_PASSWORD``.

Isolation: every test of the folder shares one database, server and worker, in file
order. A test therefore owns its data: it registers clusters under ``unique_name``s,
scopes lists and assertions to its own clusters and VMs, and uses ``make_user`` when it
needs a user whose view starts empty. The seeded users are shared, so assertions on
what they see must not count rows other tests may have added.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.browser.snippets import SnippetError, SnippetRunner

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_PASSWORD = "browser-test-password-7"
BROWSER_USERS = {
    "end_user": "erin",
    "manager": "mona",
    "security_officer": "sam",
    "admin": "ada",
    "auditor": "otto",
}
STARTUP_TIMEOUT = 60.0
# Playwright's default for every action and expectation; live delivery gets its own.
ACTION_TIMEOUT_MS = 10_000

# Runs in the prepared environment: migrate every database, then seed one user per role.
_PREPARE = """
import django, json, sys
django.setup()
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
for alias in settings.DATABASES:
    # The channel layer's database holds channels_lite alone: naming the app skips
    # replaying every other app's migrations there as no-ops (seconds of CPU).
    apps = ["channels_lite"] if alias == "channels" else []
    call_command("migrate", *apps, database=alias, interactive=False, verbosity=0)
users, password = json.loads(sys.argv[1]), sys.argv[2]
for role, username in users.items():
    user = get_user_model().objects.create_user(
        username=username, password=password, first_name=username.title()
    )
    user.groups.add(Group.objects.get_or_create(name=role)[0])
"""

# Runs in the prepared environment: one more user, in the group of ``role``.
_MAKE_USER = """
import django, sys
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
username, password, role = sys.argv[1:4]
user = get_user_model().objects.create_user(
    username=username, password=password, first_name=username.title()
)
user.groups.add(Group.objects.get_or_create(name=role)[0])
"""


@dataclass
class BrowserStack:
    """Environment and files shared by the server and worker subprocesses."""

    env: dict[str, str]
    data_dir: Path
    logs: dict[str, Path] = field(default_factory=dict)
    snippets: SnippetRunner | None = None

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs.get(name)
        if path is None or not path.exists():
            return f"({name}: no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def python(self, code: str, *args: str, timeout: float = 180) -> str:
        """Run ``code`` as ``python -c`` would, with ``args``, in this environment; its
        stdout. Fails the test with the traceback if it raises or exits non-zero."""
        if self.snippets is None:
            self.logs["snippets"] = self.data_dir / "snippets.log"
            self.snippets = SnippetRunner(env=self.env, cwd=REPO, log=self.logs["snippets"])
        try:
            return self.snippets.run(code, *args, timeout=timeout)
        except SnippetError as exc:
            pytest.fail(f"snippet failed:\n{exc}")


@contextmanager
def _scratch_postgres(url: str) -> Iterator[str]:
    """A fresh database beside the one ``url`` names, dropped afterwards."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_browser_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(drop)


@contextmanager
def _scratch_redis(url: str) -> Iterator[str]:
    """A Redis database index claimed (by a lock key in ``url``'s database) for this run."""
    import redis

    parts = urlsplit(url)
    base_index = int(parts.path.lstrip("/") or 0)
    client = redis.Redis.from_url(url)
    token = f"{socket.gethostname()}:{os.getpid()}"
    for index in range(15, 0, -1):
        lock = f"steward:browser-tests:db{index}"
        if index != base_index and client.set(lock, token, nx=True, ex=3600):
            break
    else:
        raise RuntimeError("no free Redis database index for browser tests (1-15 all claimed)")
    scratch_url = urlunsplit(parts._replace(path=f"/{index}"))
    scratch = redis.Redis.from_url(scratch_url)
    scratch.flushdb()
    try:
        yield scratch_url
    finally:
        scratch.flushdb()
        if client.get(lock) == token.encode():
            client.delete(lock)
        client.close()
        scratch.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(stack: BrowserStack, name: str, argv: list[str]) -> subprocess.Popen:
    log = stack.data_dir / f"{name}.log"
    stack.logs[name] = log
    with log.open("wb") as handle:
        return subprocess.Popen(
            argv, cwd=REPO, env=stack.env, stdout=handle, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until(
    ready: Callable[[], bool], *, process: subprocess.Popen, stack: BrowserStack, name: str
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{stack.log_tail(name)}")
        if ready():
            return
        time.sleep(0.2)
    pytest.fail(f"{name} not ready after {STARTUP_TIMEOUT:.0f}s:\n{stack.log_tail(name)}")


@pytest.fixture(scope="session")
def browser_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    data_dir = tmp_path_factory.mktemp("steward-browser")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="governance.settings",
        STEWARD_DATA_DIR=str(data_dir),
        # DEBUG lets WhiteNoise serve static files straight from the source folders.
        DEBUG="1",
        SECRET_KEY="browser-tests-only-not-a-secret",
        # Encrypted fields (cluster token secrets) need a key of at least 32 characters.
        FIELD_ENCRYPTION_KEYS="browser-tests-only-field-encryption-key",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
    )
    with ExitStack() as resources:
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = resources.enter_context(
                _scratch_postgres(os.environ["DATABASE_URL"])
            )
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = resources.enter_context(_scratch_redis(os.environ["REDIS_URL"]))
        stack = BrowserStack(env=env, data_dir=data_dir)
        prepared = subprocess.run(
            [sys.executable, "-c", _PREPARE, json.dumps(BROWSER_USERS), BROWSER_PASSWORD],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if prepared.returncode != 0:
            pytest.fail(f"preparing the browser-test database failed:\n{prepared.stderr}")
        resources.callback(lambda: stack.snippets and stack.snippets.close())
        yield stack


@pytest.fixture(scope="session")
def daphne_server(browser_stack: BrowserStack) -> Iterator[str]:
    yield from serve_daphne(browser_stack, "daphne")


def serve_daphne(browser_stack: BrowserStack, name: str) -> Iterator[str]:
    """Run daphne on a free port in ``browser_stack``'s environment; yields its base URL.

    For a module that needs a server with other settings (a copy of the stack with a
    changed ``env``), next to the shared one.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "governance.asgi:application"]
    process = _start(browser_stack, name, argv)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    try:
        _wait_until(healthy, process=process, stack=browser_stack, name=name)
        yield url
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def celery_worker_process(browser_stack: BrowserStack) -> Iterator[subprocess.Popen]:
    argv = [
        str(BIN / "celery"),
        "-A",
        "governance",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--hostname=browser-tests-{os.getpid()}@%h",
    ]
    process = _start(browser_stack, "worker", argv)
    log = browser_stack.logs["worker"]
    try:
        _wait_until(
            lambda: " ready." in log.read_text(errors="replace"),
            process=process,
            stack=browser_stack,
            name="worker",
        )
        yield process
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, daphne_server: str):
    context = chromium.new_context(base_url=daphne_server, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(daphne_server: str) -> Callable:
    """Log in through the login page as the seeded user of ``role``; waits for home."""
    from playwright.sync_api import expect

    def sign_in(
        page, role: str, *, password: str = BROWSER_PASSWORD, username: str | None = None
    ) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username or BROWSER_USERS[role])
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{daphne_server}/")

    return sign_in


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """``unique_name(prefix)``: a slug (cluster, policy, user name) no other test uses, so
    tests sharing the session's database never collide on unique names."""

    def unique_name(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return unique_name


@pytest.fixture
def make_user(browser_stack: BrowserStack, unique_name: Callable[[str], str]) -> Callable:
    """``make_user(role)``: a new user in ``role``'s group (password ``BROWSER_PASSWORD``),
    owning nothing yet; returns the username. For tests whose assertions need a user
    no other test has touched."""

    def make_user(role: str) -> str:
        username = unique_name(BROWSER_USERS[role])
        browser_stack.python(_MAKE_USER, username, BROWSER_PASSWORD, role)
        return username

    return make_user


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the server and worker logs to a failed browser test's report."""
    report = yield
    stack = getattr(item, "funcargs", {}).get("browser_stack")
    if report.failed and isinstance(stack, BrowserStack):
        for name in stack.logs:
            report.sections.append((f"{name} log (tail)", stack.log_tail(name)))
    return report
