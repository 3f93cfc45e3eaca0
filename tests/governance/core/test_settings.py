"""Settings come from the environment through ``governance/settings/env.py`` alone.

Each case loads the settings in a fresh interpreter with a controlled environment,
because they are read once at import and the test process already has its own.
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
PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "databases": {alias: db["ENGINE"] for alias, db in s.DATABASES.items()},
    "default_db": {k: s.DATABASES["default"].get(k) for k in ("NAME", "HOST", "PORT", "USER")},
    "broker": s.CELERY_BROKER_URL,
    "broker_options": getattr(s, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    "channel_layer": s.CHANNEL_LAYERS["default"],
    "cache": s.CACHES["default"]["BACKEND"],
    "installed": s.INSTALLED_APPS,
    "secure_cookies": s.SESSION_COOKIE_SECURE,
}, default=str))
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


def run_python(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )


def load_settings(environ: dict[str, str]) -> dict:
    result = run_python(environ, "-c", PROBE)
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


def test_embedded_defaults_need_nothing_outside_pip(tmp_path):
    loaded = load_settings(clean_env(tmp_path))
    assert loaded["DEBUG"] is True
    assert loaded["databases"] == {
        "default": "django.db.backends.sqlite3",
        "channels": "django.db.backends.sqlite3",
    }
    assert loaded["default_db"]["NAME"] == str(tmp_path / "steward.sqlite3")
    assert loaded["broker"].startswith("filesystem://")
    assert loaded["broker_options"]["data_folder_in"] == str(tmp_path / "broker" / "queue")
    assert (tmp_path / "broker" / "queue").is_dir()  # kombu needs its folders to exist
    assert loaded["channel_layer"]["BACKEND"] == "channels_lite.layers.core.SQLiteChannelLayer"
    assert loaded["channel_layer"]["CONFIG"] == {"database": "channels"}
    assert "channels_lite" in loaded["installed"]
    assert loaded["cache"].endswith("LocMemCache")


def test_database_url_selects_postgresql(tmp_path):
    loaded = load_settings(
        clean_env(tmp_path, DATABASE_URL="postgres://steward:pw@db.internal:5433/steward")
    )
    assert loaded["databases"]["default"] == "django.db.backends.postgresql"
    assert loaded["default_db"] == {
        "NAME": "steward",
        "HOST": "db.internal",
        "PORT": 5433,
        "USER": "steward",
    }


def test_redis_url_selects_redis_for_broker_channels_and_cache(tmp_path):
    loaded = load_settings(clean_env(tmp_path, REDIS_URL="redis://cache.internal:6379/3"))
    assert loaded["broker"] == "redis://cache.internal:6379/3"
    assert loaded["channel_layer"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert loaded["channel_layer"]["CONFIG"] == {"hosts": ["redis://cache.internal:6379/3"]}
    assert loaded["cache"].endswith("RedisCache")
    # Without the embedded layer there is no second database to migrate.
    assert "channels" not in loaded["databases"]
    assert "channels_lite" not in loaded["installed"]


def test_celery_broker_url_overrides_redis_for_the_broker_only(tmp_path):
    loaded = load_settings(
        clean_env(
            tmp_path,
            REDIS_URL="redis://cache.internal:6379/3",
            CELERY_BROKER_URL="amqp://guest@mq.internal:5672//",
        )
    )
    assert loaded["broker"] == "amqp://guest@mq.internal:5672//"
    assert loaded["channel_layer"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


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


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = run_python(
        production_env(tmp_path), "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_catches_a_weak_secret(tmp_path):
    # Proves the check above can fail: Django flags a short, low-entropy key.
    environ = production_env(tmp_path, SECRET_KEY="short")
    result = run_python(environ, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_production_defaults_are_secure(tmp_path):
    loaded = load_settings(production_env(tmp_path))
    assert loaded["DEBUG"] is False
    assert loaded["secure_cookies"] is True


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
