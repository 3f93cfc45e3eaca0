"""Settings come from the environment through ``governance/settings/env.py`` alone.

Settings are read once at import and the test process already has its own, so they are
loaded in a fresh interpreter with a controlled environment. Starting one costs seconds,
so a single interpreter loads every case of a module in turn, each from a clean import
of the settings package under that case's environment alone.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ENV_MODULE = ROOT / "governance" / "settings" / "env.py"
# Reads {case: environment} as JSON on stdin; prints {case: settings} as JSON.
PROBE = """
import importlib, json, os, sys
loaded = {}
for case, environ in json.load(sys.stdin).items():
    os.environ.clear()
    os.environ.update(environ)
    for name in [m for m in sys.modules if m.startswith("governance.settings")]:
        del sys.modules[name]
    s = importlib.import_module("governance.settings")
    loaded[case] = {
        "DEBUG": s.DEBUG,
        "databases": {alias: db["ENGINE"] for alias, db in s.DATABASES.items()},
        "default_db": {k: s.DATABASES["default"].get(k) for k in ("NAME", "HOST", "PORT", "USER")},
        "broker": s.CELERY_BROKER_URL,
        "broker_options": getattr(s, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        "channel_layer": s.CHANNEL_LAYERS["default"],
        "cache": s.CACHES["default"]["BACKEND"],
        "installed": s.INSTALLED_APPS,
        "secure_cookies": s.SESSION_COOKIE_SECURE,
    }
print(json.dumps(loaded, default=str))
"""
# Runs Django's deploy check twice in one interpreter: with the environment it was
# started with, then with SECRET_KEY replaced by a weak one (the settings package
# imported again from that environment). Prints {case: [passed, output]} as JSON.
DEPLOY_CHECKS = """
import io, json, os, sys
import django
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils.functional import empty
django.setup()
results = {}
for case, secret_key in (("strong", None), ("weak", "short")):
    if secret_key is not None:
        os.environ["SECRET_KEY"] = secret_key
        for name in [m for m in sys.modules if m.startswith("governance.settings")]:
            del sys.modules[name]
        settings._wrapped = empty
    out = io.StringIO()
    try:
        call_command("check", deploy=True, fail_level="WARNING", stdout=out, stderr=out)
        results[case] = [True, out.getvalue()]
    except SystemCheckError as exc:
        results[case] = [False, out.getvalue() + str(exc)]
print(json.dumps(results))
"""


def env_variable_names() -> list[str]:
    """Every variable env.py reads (``_env.<type>("NAME", ...)``), in order of appearance."""
    return list(
        dict.fromkeys(
            re.findall(r"""_env\.\w+\(\s*["']([A-Z][A-Z0-9_]*)["']""", ENV_MODULE.read_text())
        )
    )


def clean_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The test process's environment without any Steward variable, plus ``overrides``."""
    environ = {k: v for k, v in os.environ.items() if k not in env_variable_names()}
    environ.update(DJANGO_SETTINGS_MODULE="governance.settings", STEWARD_DATA_DIR=str(data_dir))
    environ.update(overrides)
    return environ


def run_python(
    environ: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def load_settings(cases: dict[str, dict[str, str]]) -> dict[str, dict]:
    """The settings each case's environment yields, all read by one interpreter."""
    result = run_python(os.environ.copy(), "-c", PROBE, stdin=json.dumps(cases))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def production_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    production = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "steward.example.com",
        "DATABASE_URL": "postgres://steward@127.0.0.1:5432/steward",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    return clean_env(data_dir, **{**production, **overrides})


@pytest.fixture(scope="module")
def case_dirs(tmp_path_factory) -> dict[str, Path]:
    """A data folder of its own for each settings case."""
    names = ("embedded", "postgresql", "redis", "broker", "production")
    return {name: tmp_path_factory.mktemp(f"settings-{name}") for name in names}


@pytest.fixture(scope="module")
def loaded(case_dirs) -> dict[str, dict]:
    """What each case's environment yields, read once for the whole module."""
    redis = "redis://cache.internal:6379/3"
    return load_settings(
        {
            "embedded": clean_env(case_dirs["embedded"]),
            "postgresql": clean_env(
                case_dirs["postgresql"],
                DATABASE_URL="postgres://steward:pw@db.internal:5433/steward",
            ),
            "redis": clean_env(case_dirs["redis"], REDIS_URL=redis),
            "broker": clean_env(
                case_dirs["broker"],
                REDIS_URL=redis,
                CELERY_BROKER_URL="amqp://guest@mq.internal:5672//",
            ),
            "production": production_env(case_dirs["production"]),
        }
    )


@pytest.fixture(scope="module")
def deploy_checks(tmp_path_factory) -> dict[str, list]:
    """Django's deploy check on the production settings: as given, then with a weak key."""
    environ = production_env(tmp_path_factory.mktemp("settings-deploy"))
    result = run_python(environ, "-c", DEPLOY_CHECKS)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_defaults_need_nothing_outside_pip(loaded, case_dirs):
    embedded, data_dir = loaded["embedded"], case_dirs["embedded"]
    assert embedded["DEBUG"] is True
    assert embedded["databases"] == {
        "default": "django.db.backends.sqlite3",
        "channels": "django.db.backends.sqlite3",
    }
    assert embedded["default_db"]["NAME"] == str(data_dir / "steward.sqlite3")
    assert embedded["broker"].startswith("filesystem://")
    assert embedded["broker_options"]["data_folder_in"] == str(data_dir / "broker" / "queue")
    assert (data_dir / "broker" / "queue").is_dir()  # kombu needs its folders to exist
    assert embedded["channel_layer"]["BACKEND"] == "channels_lite.layers.core.SQLiteChannelLayer"
    assert embedded["channel_layer"]["CONFIG"] == {"database": "channels"}
    assert "channels_lite" in embedded["installed"]
    assert embedded["cache"].endswith("LocMemCache")


def test_database_url_selects_postgresql(loaded):
    postgresql = loaded["postgresql"]
    assert postgresql["databases"]["default"] == "django.db.backends.postgresql"
    assert postgresql["default_db"] == {
        "NAME": "steward",
        "HOST": "db.internal",
        "PORT": 5433,
        "USER": "steward",
    }


def test_redis_url_selects_redis_for_broker_channels_and_cache(loaded):
    redis = loaded["redis"]
    assert redis["broker"] == "redis://cache.internal:6379/3"
    assert redis["channel_layer"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert redis["channel_layer"]["CONFIG"]["hosts"] == ["redis://cache.internal:6379/3"]
    # Deep enough that a burst fanned out to a big role group is not dropped unseen.
    assert redis["channel_layer"]["CONFIG"]["capacity"] >= 1000
    assert redis["cache"].endswith("RedisCache")
    # Without the embedded layer there is no second database to migrate.
    assert "channels" not in redis["databases"]
    assert "channels_lite" not in redis["installed"]


def test_celery_broker_url_overrides_redis_for_the_broker_only(loaded):
    broker = loaded["broker"]
    assert broker["broker"] == "amqp://guest@mq.internal:5672//"
    assert broker["channel_layer"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS"])
def test_production_without_a_required_value_stops_with_one_line(tmp_path, missing):
    environ = production_env(tmp_path)
    del environ[missing]
    result = run_python(environ, "manage.py", "check")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert missing in lines[0]
    assert lines[0].startswith("Steward configuration error:")


def test_production_settings_pass_the_deploy_check(deploy_checks):
    passed, output = deploy_checks["strong"]
    assert passed, output
    assert "no issues" in output


def test_deploy_check_catches_a_weak_secret(deploy_checks):
    # Proves the check above can fail: Django flags a short, low-entropy key.
    passed, output = deploy_checks["weak"]
    assert not passed
    assert "security.W009" in output


def test_production_defaults_are_secure(loaded):
    assert loaded["production"]["DEBUG"] is False
    assert loaded["production"]["secure_cookies"] is True


def test_readme_documents_every_environment_variable():
    names = env_variable_names()
    assert "SECRET_KEY" in names  # the parser works
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in names if f"`{name}`" not in readme]
    assert not missing, f"README's configuration reference lacks {missing}"


def test_a_base_url_without_a_scheme_stops_with_one_line(tmp_path):
    environ = clean_env(tmp_path, STEWARD_BASE_URL="steward.example.org")
    result = run_python(environ, "manage.py", "check")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Steward configuration error: STEWARD_BASE_URL must start with https:// (or http://), "
        "e.g. https://steward.example.org"
    ]
