"""The container files, checked statically (no Docker engine runs in the test environment)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_runs_every_process_with_health_checks():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    for name in ("postgres", "redis", "web", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["web"]["healthcheck"]["test"][-1] == "/app/docker/healthcheck.py"
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["command"] == [name]
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"


def test_application_processes_start_after_data_services_and_migration():
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["restart"] == "no"


def test_image_runs_as_an_unprivileged_user_with_static_files_collected():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert dockerfile.startswith("#") or "FROM python:3.12-slim" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users, "no USER instruction"
    assert users[-1] not in ("root", "0")
    assert "collectstatic --noinput" in dockerfile
    assert "tools/fetch_assets.py" in dockerfile
    assert re.search(r'^ENTRYPOINT \["steward-entrypoint"\]', dockerfile, re.MULTILINE)


def test_entrypoint_knows_every_process_compose_starts():
    entrypoint = (DOCKER / "entrypoint.sh").read_text()
    for name in ("web", "worker", "beat", "migrate"):
        assert re.search(rf"^\s+{name}\)", entrypoint, re.MULTILINE), name
    assert "daphne" in entrypoint


def test_env_example_lists_every_setting():
    from tests.governance.core.test_settings import env_variable_names

    example = (DOCKER / "env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    missing = [name for name in env_variable_names() if name not in listed]
    assert not missing, f"docker/env.example lacks {missing}"
    # Compose reads these for the database container and the published port.
    assert {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= listed


def run_entrypoint(tmp_path, *args: str, **environ: str) -> list[str]:
    """Run the entry point with stub daphne/celery/python that log their argv."""
    log = tmp_path / "calls.log"
    for tool in ("daphne", "celery", "python"):
        stub = tmp_path / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", **environ}
    subprocess.run(["sh", str(DOCKER / "entrypoint.sh"), *args], env=env, check=True, timeout=30)
    return log.read_text().splitlines()


def test_entrypoint_starts_daphne_and_trusts_proxy_headers_only_behind_a_proxy(tmp_path):
    assert run_entrypoint(tmp_path, "web") == [
        "daphne --bind 0.0.0.0 --port 8000 governance.asgi:application"
    ]
    (tmp_path / "calls.log").unlink()
    calls = run_entrypoint(
        tmp_path, "web", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", PORT="9000"
    )
    assert calls == [
        "daphne --bind 0.0.0.0 --port 9000 --proxy-headers governance.asgi:application"
    ]


def test_entrypoint_migrates_the_channel_database_only_without_redis(tmp_path):
    assert run_entrypoint(tmp_path, "migrate") == [
        "python manage.py migrate --noinput",
        "python manage.py migrate --database channels --noinput",
    ]
    (tmp_path / "calls.log").unlink()
    calls = run_entrypoint(tmp_path, "migrate", REDIS_URL="redis://redis:6379/0")
    assert calls == ["python manage.py migrate --noinput"]


def test_entrypoint_passes_other_commands_to_manage_py(tmp_path):
    assert run_entrypoint(tmp_path, "worker") == ["celery -A governance worker --loglevel INFO"]
    (tmp_path / "calls.log").unlink()
    assert run_entrypoint(tmp_path, "audit_verify") == ["python manage.py audit_verify"]
