"""The one module that reads the environment.

Every setting an operator can change is read here, typed and defaulted, so the
configuration reference in the README has a single source. The embedded defaults
run the whole portal with nothing outside pip (SQLite, a filesystem broker and a
SQLite channel layer under ``STEWARD_DATA_DIR``); production sets ``DATABASE_URL``
and ``REDIS_URL``. With ``DEBUG=0`` a missing secret stops start-up with one line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

_env = environ.Env()


def _fail(message: str) -> None:
    # A traceback would bury the one thing the operator must fix.
    sys.stderr.write(f"Steward configuration error: {message}\n")
    raise SystemExit(2)


DEBUG: bool = _env.bool("DEBUG", default=True)

DATA_DIR: Path = Path(_env.str("STEWARD_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

SECRET_KEY: str = _env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        _fail("SECRET_KEY must be set when DEBUG=0 (generate one with `openssl rand -base64 48`).")
    SECRET_KEY = "insecure-development-key-only-for-DEBUG-1-never-in-production"  # noqa: S105

# Keys that encrypt secrets at rest (Proxmox token secrets), newest first; rotating
# means prepending a new key and keeping the old ones until data is re-encrypted.
FIELD_ENCRYPTION_KEYS: list[str] = _env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS and not DEBUG:
    _fail("FIELD_ENCRYPTION_KEYS must be set when DEBUG=0 (see README, Configuration).")

ALLOWED_HOSTS: list[str] = _env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not ALLOWED_HOSTS and not DEBUG:
    _fail("ALLOWED_HOSTS must be set when DEBUG=0 (comma-separated host names).")
CSRF_TRUSTED_ORIGINS: list[str] = _env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATABASE_URL: str = _env.str("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'steward.sqlite3'}")
# Seconds a database connection is reused. 0 (close after each request) is the safe
# default under ASGI, where Django cannot tie a persistent connection to one thread.
DATABASE_CONN_MAX_AGE: int = _env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASE = _env.db_url_config(DATABASE_URL)

REDIS_URL: str = _env.str("REDIS_URL", default="")
# An empty value counts as unset, as env files often carry ``NAME=`` lines.
CELERY_BROKER_URL: str = (
    _env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://localhost/"
)

TIME_ZONE: str = _env.str("TIME_ZONE", default="UTC")
LOG_LEVEL: str = _env.str("LOG_LEVEL", default="INFO").upper()

SESSION_IDLE_TIMEOUT: int = _env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT: int = _env.int("SESSION_ABSOLUTE_TIMEOUT", default=10 * 60 * 60)
LOGIN_FAILURE_LIMIT: int = _env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES: int = _env.int("LOGIN_LOCKOUT_MINUTES", default=15)
# Roles that must sign in with a second factor (TOTP). The embedded defaults ask nobody,
# so the demo and the tests sign in with a password; production asks the roles that
# change or approve changes to the estate.
_ROLE_NAMES = {"end_user", "manager", "security_officer", "admin", "auditor"}
MFA_REQUIRED_ROLES: list[str] = _env.list(
    "MFA_REQUIRED_ROLES", default=[] if DEBUG else ["admin", "security_officer", "manager"]
)
if unknown := sorted(set(MFA_REQUIRED_ROLES) - _ROLE_NAMES):
    _fail(f"MFA_REQUIRED_ROLES names unknown roles: {', '.join(unknown)} (see README).")
# REST API request rates (DRF syntax: "<count>/<sec|min|hour|day>").
API_USER_RATE: str = _env.str("API_USER_RATE", default="600/min")
API_ANON_RATE: str = _env.str("API_ANON_RATE", default="60/min")

SECURE_COOKIES: bool = _env.bool("SECURE_COOKIES", default=not DEBUG)
SECURE_SSL_REDIRECT: bool = _env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS: int = _env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
# Set when a TLS-terminating proxy sits in front: the header it sets, e.g. X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER: str = _env.str("SECURE_PROXY_SSL_HEADER", default="")

EMAIL_URL: str = _env.str("EMAIL_URL", default="consolemail://")

# A guest not running for this many days counts as dormant (inventory lists and pages).
STEWARD_DORMANT_DAYS: int = _env.int("STEWARD_DORMANT_DAYS", default=30)
if STEWARD_DORMANT_DAYS < 1:
    _fail("STEWARD_DORMANT_DAYS must be at least 1.")
EMAIL = _env.email_url_config(EMAIL_URL)
DEFAULT_FROM_EMAIL: str = _env.str("DEFAULT_FROM_EMAIL", default="steward@localhost")

# The portal's public address, for absolute links in mail (daily digests); no trailing /.
STEWARD_BASE_URL: str = _env.str("STEWARD_BASE_URL", default="").rstrip("/")
if STEWARD_BASE_URL and not STEWARD_BASE_URL.startswith(("https://", "http://")):
    _fail(
        "STEWARD_BASE_URL must start with https:// (or http://), e.g. https://steward.example.org"
    )

# Mirror each VM's owner and team to Proxmox as owner-<username>/team-<slug> tags after an
# ownership change; Steward never reads them back (its database is the truth).
STEWARD_MIRROR_OWNER_TAGS: bool = _env.bool("STEWARD_MIRROR_OWNER_TAGS", default=False)

# Quarantine: the cluster firewall security group Steward manages, and the only hosts a
# quarantined guest may reach (patch mirrors on 80/443, DNS servers on 53), as IPs/CIDRs.
STEWARD_QUARANTINE_GROUP: str = _env.str("STEWARD_QUARANTINE_GROUP", default="steward-quarantine")
STEWARD_QUARANTINE_PATCH_HOSTS: list[str] = _env.list("STEWARD_QUARANTINE_PATCH_HOSTS", default=[])
STEWARD_QUARANTINE_DNS_HOSTS: list[str] = _env.list("STEWARD_QUARANTINE_DNS_HOSTS", default=[])

# Seconds between inventory syncs of each cluster (beat fans out one sync per cluster).
STEWARD_SYNC_INTERVAL: int = _env.int("STEWARD_SYNC_INTERVAL", default=60)
if STEWARD_SYNC_INTERVAL < 10:
    _fail("STEWARD_SYNC_INTERVAL must be at least 10 seconds.")
