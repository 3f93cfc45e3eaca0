"""Django settings for Steward; values an operator may change come from ``env``."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab

from governance.settings import env

BASE_DIR = env.BASE_DIR
DATA_DIR = env.DATA_DIR
DEBUG = env.DEBUG
SECRET_KEY = env.SECRET_KEY
FIELD_ENCRYPTION_KEYS = env.FIELD_ENCRYPTION_KEYS
ALLOWED_HOSTS = env.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = env.CSRF_TRUSTED_ORIGINS
STEWARD_DORMANT_DAYS = env.STEWARD_DORMANT_DAYS

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_static",
    "channels",
    "governance.core",
    "governance.accounts",
    "governance.audit",
    "inventory",
    "governance.notifications",
    "governance.ownership",
    "policy",
    "governance.approvals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "governance.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After MessageMiddleware: an expired session is told why on the login page.
    "governance.accounts.middleware.SessionExpiryMiddleware",
    # After expiry: a session that just ended is not sent to the second-factor step.
    "governance.accounts.middleware.MfaGateMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "governance.urls"
ASGI_APPLICATION = "governance.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "governance.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": {**env.DATABASE, "CONN_MAX_AGE": env.DATABASE_CONN_MAX_AGE}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and beat share the file without
    # "database is locked" under ordinary load; the timeout covers the rest.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The embedded defaults keep their files here; create it so a first run just works.
DATA_DIR.mkdir(parents=True, exist_ok=True)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Failed-login throttling (django-axes): lock the username+address pair, not the
# whole address, so one attacker cannot lock out an office behind one NAT.
AXES_FAILURE_LIMIT = env.LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=env.LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_VERBOSE = False
# Anonymous visitors see nothing, so guardian needs no "AnonymousUser" row in the user table.
ANONYMOUS_USER_NAME = None

# Second factor (django-otp): the roles that must use it; wrong codes lock a user out
# for LOGIN_LOCKOUT_MINUTES after LOGIN_FAILURE_LIMIT tries (governance.accounts.mfa),
# which replaces django-otp's per-device back-off for recovery codes.
MFA_REQUIRED_ROLES = env.MFA_REQUIRED_ROLES
OTP_STATIC_THROTTLE_FACTOR = 0

SESSION_IDLE_TIMEOUT = env.SESSION_IDLE_TIMEOUT
SESSION_ABSOLUTE_TIMEOUT = env.SESSION_ABSOLUTE_TIMEOUT
SESSION_COOKIE_AGE = env.SESSION_ABSOLUTE_TIMEOUT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.SECURE_COOKIES
CSRF_COOKIE_SECURE = env.SECURE_COOKIES
SECURE_SSL_REDIRECT = env.SECURE_SSL_REDIRECT
# Health checks probe the web process directly, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.SECURE_HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.SECURE_PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + env.SECURE_PROXY_SSL_HEADER.upper().replace("-", "_"),
        "https",
    )

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.TIME_ZONE
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# API throttling and other short-lived counters: shared through Redis when there is one;
# the embedded default runs one web process, so a per-process memory cache is exact.
if env.REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.REDIS_URL,
            "KEY_PREFIX": "steward",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

EMAIL_BACKEND = env.EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = env.EMAIL.get("EMAIL_HOST", "")
EMAIL_PORT = env.EMAIL.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = env.EMAIL.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.EMAIL.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.EMAIL.get("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.DEFAULT_FROM_EMAIL

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.core.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "governance.core.api.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "governance.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "governance.core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"user": env.API_USER_RATE, "anon": env.API_ANON_RATE},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Steward API",
    "DESCRIPTION": "Governance of virtual machines on Proxmox VE.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several inventory models have a "kind"; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "GuestKindEnum": "inventory.models.GuestKind",
        "CopyKindEnum": "inventory.models.CopyKind",
        "DeviceKindEnum": "inventory.models.DeviceKind",
        "LineageKindEnum": "inventory.models.LineageKind",
        "ClassificationEnum": "inventory.models.Classification",
        "PolicyKindEnum": "policy.models.PolicyKind",
        "RequestKindEnum": "governance.approvals.models.RequestKind",
        "RequestEventKindEnum": "governance.approvals.models.RequestEventKind",
        "RequestStateEnum": "governance.approvals.models.RequestState",
    },
}

# Celery. The worker and beat are separate processes in every mode (never eager):
# the embedded default is kombu's filesystem transport under DATA_DIR.
CELERY_BROKER_URL = env.CELERY_BROKER_URL
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    # kombu's filesystem transport expects its folders to exist.
    for _folder in ("queue", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # Seconds between looks at the queue folder: task pickup latency in the demo.
        "polling_interval": 0.25,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# Task modules outside an app's tasks.py (autodiscovery reads only tasks.py).
CELERY_IMPORTS = ("governance.approvals.grant_tasks",)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "core-heartbeat": {"task": "governance.core.tasks.heartbeat", "schedule": 60.0},
    "inventory-sync-all": {
        "task": "inventory.sync.tasks.sync_all",
        "schedule": float(env.STEWARD_SYNC_INTERVAL),
    },
    "ownership-lease-warnings": {
        "task": "governance.ownership.tasks.send_lease_warnings",
        "schedule": crontab(hour=6, minute=0),
    },
    "ownership-sprawl": {
        "task": "governance.ownership.tasks.record_sprawl",
        "schedule": crontab(hour=0, minute=30, day_of_week="mon"),
    },
    # Policy: time-based rules change with the clock alone, so reconcile also on a timer;
    # pick up remediation steps a lost message left behind; end exemptions; keep
    # Steward's Proxmox rights in shape.
    "policy-reconcile-all": {"task": "policy.tasks.reconcile_all", "schedule": 15 * 60.0},
    "policy-remediations-due": {"task": "policy.tasks.remediations_due", "schedule": 60.0},
    "policy-exemptions-expire": {"task": "policy.tasks.exemptions_expire", "schedule": 300.0},
    "policy-rights-sync-all": {"task": "policy.tasks.rights_sync_all", "schedule": 3600.0},
    # Approvals: re-queue executions a lost message or a dead worker left overdue; expire
    # requests nobody decided in time.
    "approvals-executions-resume": {"task": "approvals.executions_resume", "schedule": 30.0},
    "approvals-requests-expire": {"task": "approvals.requests_expire", "schedule": 300.0},
    # Approvals: access grants start and end within one interval (ends <= 60 s late);
    # export archives are deleted once their availability ended.
    "approvals-grants-reconcile": {"task": "approvals.grants_reconcile", "schedule": 15.0},
    "approvals-exports-expire": {"task": "approvals.exports_expire", "schedule": 600.0},
    # After the lease warnings, so the morning mail carries them.
    "notifications-digest": {
        "task": "governance.notifications.tasks.send_digests",
        "schedule": crontab(hour=7, minute=0),
    },
}
STEWARD_SYNC_INTERVAL = env.STEWARD_SYNC_INTERVAL
STEWARD_BASE_URL = env.STEWARD_BASE_URL
STEWARD_MIRROR_OWNER_TAGS = env.STEWARD_MIRROR_OWNER_TAGS
STEWARD_QUARANTINE_GROUP = env.STEWARD_QUARANTINE_GROUP
STEWARD_QUARANTINE_PATCH_HOSTS = env.STEWARD_QUARANTINE_PATCH_HOSTS
STEWARD_QUARANTINE_DNS_HOSTS = env.STEWARD_QUARANTINE_DNS_HOSTS

# Channels: Redis in production; without REDIS_URL a SQLite file of its own
# (kept apart from the main database so websocket traffic never waits on it).
if env.REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A full channel drops messages unseen (the default capacity, 100, overflows
            # when a burst fans out to a big role group); the consumer coalesces what it
            # drains, so a deeper queue costs little. Expiry stays at its default (60 s):
            # an expired message is lost as silently as a full channel's.
            "CONFIG": {"hosts": [env.REDIS_URL], "capacity": 2000},
        }
    }
else:
    INSTALLED_APPS.append("channels_lite")
    DATABASES["channels"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "channels.sqlite3",
        # IMMEDIATE as for the main file: a deferred transaction that reads and then
        # writes fails at once with "database is locked" when another process writes,
        # instead of waiting out the timeout (seen at a websocket's group_add while two
        # syncs published their ends).
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
    DATABASE_ROUTERS = ["governance.core.routers.ChannelLayerRouter"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {"database": "channels"},
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
