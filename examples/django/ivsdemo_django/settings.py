"""Settings of the Django demo. No database: the demo user lives in the signed session cookie."""

from __future__ import annotations

import os
import secrets

SECRET_KEY = os.environ.get("IVSDEMO_SESSION_KEY") or secrets.token_hex(32)
DEBUG = os.environ.get("IVSDEMO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "ivsecrets.integrations.django",  # template tag, identity view, `manage.py check`
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "ivsdemo_django.views.DemoAuthenticationMiddleware",
    # Cache-Control: private on pages carrying the signed user
    "ivsecrets.integrations.django.middleware.IntercomMiddleware",
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
ROOT_URLCONF = "ivsdemo_django.urls"
DATABASES: dict[str, object] = {}
USE_TZ = True
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csrf",
                "ivsecrets.integrations.django.context_processors.intercom",
            ]
        },
    }
]
IVSECRETS_INTERCOM = {
    # The local stub shows what the Messenger would get; to load the real Messenger:
    # IVSDEMO_LOADER_URL=https://widget.intercom.io/widget/{app_id}
    "LOADER_URL": os.environ.get("IVSDEMO_LOADER_URL", "/_demo/intercom-stub.js"),
    "USER_DATA": "ivsdemo_django.views.user_data",
}
