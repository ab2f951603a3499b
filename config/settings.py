"""Leadladder settings. Every value that differs between machines comes from the environment."""

import os
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The fallback key only ever serves a local DEBUG run; `check --deploy` flags it elsewhere.
# Read raw, not through env(): django-environ treats a value starting with "$" as the name
# of another variable, and Django's own get_random_secret_key() draws from "$" too.
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-local-development-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "bootstrap",
    "django_countries",
    "accounts",
    "leads",
    "scoring",
    "consent",
    "funnel",
    "outbox",
    "api",
    "webforms",
    "imports",
    "privacy",
    "retention",
    "sales",
    "activities",
    "quota",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every view is private unless it is decorated with @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes must come last so it sees the final authentication outcome.
    "axes.middleware.AxesMiddleware",
]

# `manage.py bench` serves config.bench_urls (the project plus a minimal view) under gunicorn.
ROOT_URLCONF = env("ROOT_URLCONF", default="config.urls")
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    }
]

# --- Data -------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'leadladder.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A dead database must fail a request fast, not hang a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    # Hot statements run through config.db.prepared_cursor are prepared after this many runs
    # on a connection. Set it empty behind a pooler that cannot keep prepared statements
    # (PgBouncer before 1.21 in transaction mode).
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
        env.int("DATABASE_PREPARE_THRESHOLD", default=5)
        if env("DATABASE_PREPARE_THRESHOLD", default="5")
        else None
    )
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_leadladder")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts and security -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Five wrong passwords lock that username from that address for an hour.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0)

SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# --- Internationalisation --------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
# CSV imports: larger files are refused with a message, before anything is stored.
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_MB", default=50) * 1024 * 1024

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- E-mail ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Leadladder <noreply@leadladder.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API -------------------------------------------------------------------------------------
# How long a process trusts a token check it made (see api.authentication); 0: never.
API_TOKEN_CACHE_SECONDS = env.float("API_TOKEN_CACHE_SECONDS", default=5.0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.RoleTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Every error answers {"errors": {field: [messages]}}, whatever raised it.
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    # Keyset pages: no COUNT(*) and no OFFSET, so a page stays fast at a million rows.
    "DEFAULT_PAGINATION_CLASS": "api.pagination.KeysetCursorPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Leadladder API",
    "DESCRIPTION": "Capture, qualify and follow leads from first contact to won deal.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "/static/img/leadladder.svg",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery ----------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "leadladder",
        "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# Without Redis, tasks run in-process so `make run` needs no server at all.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="leadladder")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# Tasks are idempotent, so redelivery after a crash is safe and nothing is lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish from a request must fail within seconds instead of hanging on a dead broker.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    # Longer than the longest task (time limit above), or Redis would redeliver running tasks.
    "visibility_timeout": 2 * 60 * 60,
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 300_000  # kilobytes
# Tasks the outbox relay sends together as one task of a batch form (see outbox.services).
OUTBOX_BATCH_TASKS = {"scoring.tasks.rescore_lead_task": "scoring.tasks.rescore_leads_task"}
CELERY_BEAT_SCHEDULE: dict = {
    # The relay process publishes within milliseconds; this catches anything it missed.
    "relay-outbox": {"task": "outbox.tasks.relay_outbox_task", "schedule": 10.0},
    "purge-outbox": {"task": "outbox.tasks.purge_published_outbox_task", "schedule": 24 * 3600},
    # Engagement points fade with time alone; scores are brought up to date every night.
    "rescore-fading": {
        "task": "scoring.tasks.rescore_fading_task",
        "schedule": crontab(hour=3, minute=30),
    },
    # Personal data past its retention period is erased every night (retention/).
    "apply-retention": {
        "task": "retention.tasks.apply_retention_task",
        "schedule": crontab(hour=4, minute=0),
    },
    # Double opt-in requests nobody confirmed in time are closed (consent/).
    "expire-confirmations": {
        "task": "consent.tasks.expire_confirmations_task",
        "schedule": crontab(hour=4, minute=30),
    },
    # Sales (sales/): unowned MQLs are handed over by the assignment rules every minute, and
    # reps hear about leads past their first-contact SLA every morning.
    "assign-waiting-mqls": {"task": "sales.tasks.assign_waiting_mqls_task", "schedule": 60.0},
    "remind-overdue": {
        "task": "sales.tasks.remind_overdue_task",
        "schedule": crontab(hour=7, minute=0, day_of_week="mon-fri"),
    },
    # The funnel dashboard's daily counts follow the stage history (funnel/).
    "refresh-funnel-counts": {"task": "funnel.tasks.refresh_daily_counts_task", "schedule": 60.0},
    "purge-idempotency-keys": {
        "task": "api.tasks.purge_expired_idempotency_keys_task",
        "schedule": 3600.0,
    },
}

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Product ---------------------------------------------------------------------------------
# Up to this many leads a draft's preview is worked out in the page request; beyond, in the
# background while the page refreshes itself.
SCORING_PREVIEW_INLINE_LEADS = env.int("SCORING_PREVIEW_INLINE_LEADS", default=50_000)
# Database connections a full re-score works on at once, chunk by chunk (one per core the
# database may use for it).
RESCORE_CONNECTIONS = env.int("RESCORE_CONNECTIONS", default=2)
LEADLADDER_DEMO_PASSWORD = env("DEMO_PASSWORD", default="leadladder-demo")
# Absolute links in e-mails (invitations, signed data-subject links) start with this.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# --- Consent and data-subject rights ---------------------------------------------------------
# A double opt-in link works this many days; then the purpose is no longer pending.
CONSENT_CONFIRMATION_DAYS = env.int("CONSENT_CONFIRMATION_DAYS", default=7)
# Withdrawal and preference links in messages work this many days.
CONSENT_LINK_DAYS = env.int("CONSENT_LINK_DAYS", default=365)
# Erased addresses are remembered as HMAC-SHA256 with this salt (see privacy.models). Keep it
# stable: a new salt forgets the suppression list.
# (Read without django-environ: a default starting with "$" would be taken as a reference.)
SUPPRESSION_SALT = os.environ.get("SUPPRESSION_SALT") or SECRET_KEY

# --- Sales workspace --------------------------------------------------------------------------
# First contact is due this many business hours after a lead is handed over to a rep.
SLA_FIRST_CONTACT_BUSINESS_HOURS = env.int("SLA_FIRST_CONTACT_BUSINESS_HOURS", default=24)
# Business hours: these hours of these weekdays (0 = Monday), in TIME_ZONE.
BUSINESS_HOURS = (env.int("BUSINESS_DAY_START", default=9), env.int("BUSINESS_DAY_END", default=17))
BUSINESS_DAYS = tuple(env.list("BUSINESS_DAYS", cast=int, default=[0, 1, 2, 3, 4]))
