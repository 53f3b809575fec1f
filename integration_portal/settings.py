"""Settings, all from the environment (prefix PORTAL_, plus DATABASE_URL and REDIS_URL).

Embedded defaults need nothing installed: SQLite under var/ and kombu's filesystem
transport as the Celery broker. Production sets DATABASE_URL (PostgreSQL) and
REDIS_URL, turns PORTAL_DEBUG off and must provide PORTAL_SECRET_KEY and
PORTAL_ENCRYPTION_KEY; the same module serves both (no production-only module).
See .env.example for every variable.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
# A checkout has manage.py beside the apps; an installed wheel (pip install, deploy/) has not.
IS_CHECKOUT = (BASE_DIR / "manage.py").is_file()
# The project-wide templates/, static/ and locale/: beside manage.py in a checkout, inside this
# package in the wheel (setup.py puts them there).
ASSETS_DIR = BASE_DIR if IS_CHECKOUT else Path(__file__).resolve().parent
# Runtime files (SQLite, filesystem broker, collected static files): var/ of the checkout, or of
# the working directory of an installed portal (deploy/ sets PORTAL_VAR_DIR explicitly).
VAR_DIR = Path(
    environ.Env().str(
        "PORTAL_VAR_DIR", default=str((BASE_DIR if IS_CHECKOUT else Path.cwd()) / "var")
    )
)

env = environ.Env()
# A .env beside manage.py (written by `make run` / `make test` on first use) fills in
# what the real environment does not set; the real environment always wins.
if env.bool("PORTAL_READ_DOTENV", default=True) and (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("PORTAL_DEBUG", default=False)

SECRET_KEY = env.str("PORTAL_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "PORTAL_SECRET_KEY is not set. Production refuses to start without it "
            "(see .env.example); `make run` generates one for development."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "PORTAL_SECRET_KEY is too weak: production needs 50 or more random characters "
        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
    )

# Fernet keys (comma separated, newest first) that encrypt secrets at rest.
ENCRYPTION_KEYS = env.list("PORTAL_ENCRYPTION_KEY", default=[])
if not ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "PORTAL_ENCRYPTION_KEY is not set. Production refuses to start without it: "
        "generate one with `python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'`."
    )

ALLOWED_HOSTS = env.list("PORTAL_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("PORTAL_CSRF_TRUSTED_ORIGINS", default=[])

# Public base URL of this portal (used to point the demo connections at the sandbox).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The simulators of Kingdee, Jushuitan, the robots and the FX sources under /sandbox/.
SANDBOX_ENABLED = env.bool("PORTAL_SANDBOX_ENABLED", default=False)
# Hosts on an internal network the portal may call (an on-premise Kingdee, the sandbox).
ALLOWED_INTERNAL_HOSTS = env.list(
    "PORTAL_ALLOWED_INTERNAL_HOSTS",
    default=["127.0.0.1", "localhost", "::1"] if SANDBOX_ENABLED else [],
)

INSTALLED_APPS = [
    "core.apps.PortalAdminConfig",  # the admin, on core.admin_site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "simple_history",
    "axes",
    # Project apps; dependencies point downward only:
    # flows -> mappings, connectors; monitoring reads flows; the sandbox talks HTTP only.
    "core",
    "connectors",
    "connectors.kingdee",
    "connectors.jushuitan",
    "connectors.dingtalk",
    "connectors.fx",
    "mappings",
    "flows",
    "monitoring",
    "masterdata",
    "finance",
    "sandbox",
    "sandbox.kingdee",
    "sandbox.jushuitan",
    "sandbox.robots",
    "sandbox.fx",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: locks an account + address out after repeated failed logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "integration_portal.urls"
WSGI_APPLICATION = "integration_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ASSETS_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Production runs several processes (web workers, Celery workers, beat) that must share one
# database and one Redis: the replay store of signed calls, the rate limits and the locks live
# there. SQLite and a per-process cache would let each process believe its own story (a replay
# accepted by the second web worker), so without DEBUG both are required.
if not DEBUG:
    _missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not env.str(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            f"{' and '.join(_missing)} not set. Production (PORTAL_DEBUG=false) refuses to start "
            "without PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): the replay store, rate "
            "limits and locks must be shared by every process. Development: PORTAL_DEBUG=true "
            "(`make run` writes it to .env)."
        )
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: wait for locks instead of failing, and let
    # readers run beside the writer.
    # Tests use a file too (not the in-memory default), so the live server, Celery worker
    # threads and the test each have their own connection, as in production.
    # One file per test process, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("PORTAL_DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True

# --- Redis, cache, Celery ----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Prefix of every key the portal keeps in Redis (cache, locks, rate-limit windows): two portals
# (or two parallel test processes) sharing one Redis keep apart by giving different prefixes.
PORTAL_KEY_PREFIX = env.str("PORTAL_KEY_PREFIX", default="portal")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": PORTAL_KEY_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# "imports": rows processed by a running bulk import, written by the worker and read by the
# admin's progress page, so it must be shared between processes (not locmem) and outside the
# database (the import's transaction holds SQLite's write lock until it ends).
if REDIS_URL:
    CACHES["imports"] = {**CACHES["default"]}
else:
    CACHES["imports"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "imports"),
        "TIMEOUT": 24 * 3600,
    }

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        # Broadcast (remote control) queues too, or kombu writes them to ./control.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # A task not acknowledged within the hour is redelivered (acks_late below).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Auth, i18n, time ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: 5 failures for one user name from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env.int("PORTAL_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("PORTAL_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env.int("PORTAL_PROXY_COUNT", default=0)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [ASSETS_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [ASSETS_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Integration Portal API",
    "DESCRIPTION": "Jushuitan (聚水潭) ↔ Kingdee Cloud Galaxy (金蝶云星空) integration endpoints.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security (production) -------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("PORTAL_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("PORTAL_SECURE_COOKIES", default=True)
    SECURE_SSL_REDIRECT = env.bool("PORTAL_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("PORTAL_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REFERRER_POLICY = "same-origin"
    if env.bool("PORTAL_BEHIND_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # /healthz is probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging ---------------------------------------------------------------------------
LOG_LEVEL = env.str("PORTAL_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "core.logging.MaskSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Group robots and alerts (O2) --------------------------------------------------------
# Robot webhooks must be https to a public address; these hosts (the sandbox) are the only
# exceptions allowed plain http or an internal address. Checked by core.netguard, like the
# connection URLs; unset, it is PORTAL_ALLOWED_INTERNAL_HOSTS.
ROBOT_ALLOWED_INTERNAL_HOSTS = env.list(
    "PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS", default=list(ALLOWED_INTERNAL_HOSTS)
)
# Unconfirmed vendor codes that mean "over the limit" besides the confirmed ones
# (DingTalk 130101, Feishu 11232), as kind:code.
ROBOT_EXTRA_RATE_LIMIT_CODES = env.list(
    "PORTAL_ROBOT_RATE_LIMIT_CODES", default=["dingtalk:90030", "wecom:45009"]
)
# How long a robot stays throttled after answering "too fast" (DingTalk: 10 minutes).
ROBOT_THROTTLE_SECONDS = env.int("PORTAL_ROBOT_THROTTLE_SECONDS", default=600)
ROBOT_TIMEOUT_SECONDS = env.float("PORTAL_ROBOT_TIMEOUT_SECONDS", default=10.0)
# Alerts wait this long after the commit that raised them, so a burst leaves as one digest.
ALERT_DISPATCH_DELAY_SECONDS = env.float("PORTAL_ALERT_DISPATCH_DELAY_SECONDS", default=2.0)
ALERT_MAX_ATTEMPTS = env.int("PORTAL_ALERT_MAX_ATTEMPTS", default=8)
# --- Sync engine ---------------------------------------------------------------------------
# A worker's claim on a batch of documents lasts this long; the documents of a worker that
# died (killed, machine lost) are taken up again after it. Longer than the slowest batch.
PORTAL_CLAIM_LEASE_SECONDS = env.int("PORTAL_CLAIM_LEASE_SECONDS", default=600)
# A flow's run lock lapses this long after the run's last sign of life (a killed worker holds
# its flow back at most this long); runs renew it as they page and write.
PORTAL_RUN_LOCK_SECONDS = env.int("PORTAL_RUN_LOCK_SECONDS", default=120)
# A worker told to stop (SIGTERM) finishes its batch; one still running after this long hands
# its documents back (outcome unknown, workable at once). Keep the supervisor's stop timeout
# (systemd TimeoutStopSec, docker stop -t) above it: see README, Production.
PORTAL_STOP_GRACE_SECONDS = env.int("PORTAL_STOP_GRACE_SECONDS", default=20)
# The watchdog (issue 15) calls beat or the workers silent after this long without a sign.
PORTAL_SILENCE_SECONDS = env.int("PORTAL_SILENCE_SECONDS", default=300)
# --- Monitoring (O1, O3) ---------------------------------------------------------------------
# Events older than this are purged nightly (error events of documents with open tickets kept).
PORTAL_EVENT_RETENTION_DAYS = env.int("PORTAL_EVENT_RETENTION_DAYS", default=90)
# Rows deleted per statement by the purge (short transactions, no long locks).
PORTAL_PURGE_BATCH_SIZE = env.int("PORTAL_PURGE_BATCH_SIZE", default=5000)
# Seconds the process board's numbers are cached (many viewers polling share one computation).
PORTAL_BOARD_CACHE_SECONDS = env.int("PORTAL_BOARD_CACHE_SECONDS", default=5)
# Bearer token a Prometheus server sends to /monitoring/metrics (empty: staff login only).
PORTAL_METRICS_TOKEN = env.str("PORTAL_METRICS_TOKEN", default="")
# --- Mappings (issue 24 point 6) -----------------------------------------------------------
# The FilterString each Kingdee code table (BD_Currency, BD_Account, BD_TaxRate) is pulled with,
# per form id, e.g. {"BD_Account": "FDocumentStatus = 'C'"}; unset: audited and not forbidden
# (docs/protocols/kingdee.md §4.19).
PORTAL_KINGDEE_CODE_TABLE_FILTERS = env.json("PORTAL_KINGDEE_CODE_TABLE_FILTERS", default={})
# --- Demo (`make run`) ---------------------------------------------------------------------
# The `demo` process configures the demo Integration and keeps storefront traffic flowing
# (needs PORTAL_SANDBOX_ENABLED); false leaves the portal idle.
PORTAL_DEMO = env.bool("PORTAL_DEMO", default=True)
# Demo storefront orders per second (0.2: one order every five seconds).
PORTAL_DEMO_RATE = env.float("PORTAL_DEMO_RATE", default=0.2)
# --- Mapping imports (django-import-export) ---------------------------------------------------
# A file import changes rows: only users who may change the table may import into it (without
# this, anyone who can view a mapping table could rewrite it from a file).
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
