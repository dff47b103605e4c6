"""Settings of the throwaway Django project that serves django-helpdesk for bench/peer.sh.

Not a deployment: bench/peer.sh copies this package into a run directory, points it at a
fresh database through the PEER_* environment variables below, migrates, and serves it
with gunicorn. Only what django-helpdesk's install guide asks for, its REST API, token
authentication, and the durability settings the comparison needs.
"""

import os

RUN_DIR = os.environ["PEER_RUN_DIR"]

SECRET_KEY = "bench-only-not-a-secret"
# DEBUG=True would keep every SQL statement in memory and render debug pages.
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    # What django-helpdesk's installation guide lists as required.
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    # Its REST API, and DRF's token table for the API client.
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "peerdesk.urls"
WSGI_APPLICATION = "peerdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections, as any production Django does: the default (0) would open a
# new database connection for every request, which is not what the peer would be run with.
CONN_MAX_AGE = 600

if os.environ.get("PEER_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["PEER_PG_NAME"],
            "USER": os.environ.get("PEER_PG_USER", "postgres"),
            "HOST": os.environ.get("PEER_PG_HOST", "127.0.0.1"),
            "PORT": os.environ["PEER_PG_PORT"],
            "CONN_MAX_AGE": CONN_MAX_AGE,
            # The cluster's own settings (fsync=on, synchronous_commit=on) decide
            # durability; stated again here so a misconfigured cluster cannot weaken it.
            "OPTIONS": {"options": "-c synchronous_commit=on"},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["PEER_SQLITE_PATH"],
            "CONN_MAX_AGE": CONN_MAX_AGE,
            "OPTIONS": {
                # Power-loss durability like ours with --sqlite-sync full: WAL, and an
                # fsync of the WAL at every commit.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                # Writers take the lock at BEGIN and wait for it (Django's advice for
                # concurrent writers), instead of failing with "database is locked"
                # when a read transaction upgrades.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SITE_ID = 1

REST_FRAMEWORK = {
    # A token looked up per request, like our API keys. Basic auth would run Django's
    # PBKDF2 password hash on every request and measure that instead of the tracker.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
    ],
}

# django-helpdesk: its REST API (on by default in 2.6.1; older releases called the
# switch HELPDESK_ACTIVATE_API_ENDPOINT), without the optional pinax-teams extra.
HELPDESK_API_ENABLED = True
HELPDESK_ACTIVATE_API_ENDPOINT = True
HELPDESK_TEAMS_MODE_ENABLED = False
# The knowledge base stays on: 2.6.1's urls.py fails to import with it off.

# Tickets are filed without a submitter address, so no notification is rendered; any
# other mail goes nowhere.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.invalid"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(RUN_DIR, "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = os.path.join(RUN_DIR, "media")

LOGIN_URL = "helpdesk:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
