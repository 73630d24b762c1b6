"""Test-only Django settings for running BottleCRM (django-crm 1.35.0) as a local peer on SQLite."""

import os

from crm.settings import *  # type: ignore[import-not-found]  # noqa: F403

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CRM_SQLITE", "crm.sqlite3"),
        "OPTIONS": {"timeout": 20},
    }
}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

import webhooks.ssrf as _ssrf  # type: ignore[import-not-found]  # noqa: E402

_ssrf.is_blocked = lambda ip: False
_ssrf._allowed_ports = lambda: range(1, 65536)
