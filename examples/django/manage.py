#!/usr/bin/env python
"""Django's command-line utility for the demo.

Start the demo: ``python examples/django/manage.py runserver 127.0.0.1:8001`` (log in as ada /
lovelace). ``python examples/django/manage.py check`` runs the ivsecrets system checks.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def demo_environment() -> None:
    """The embedded default: fill in throwaway demo values for whatever is not set."""
    os.environ.setdefault("IVSECRETS_WORKSPACE", "test")
    os.environ.setdefault("IVSECRETS_APP_ID_TEST", "demo1234")
    for platform in ("WEB", "IOS", "ANDROID"):
        if f"IVSECRETS_{platform}_TEST" not in os.environ:
            os.environ[f"IVSECRETS_{platform}_TEST"] = secrets.token_urlsafe(32)
            print(f"IVSECRETS_{platform}_TEST not set: using a throwaway demo secret")
    # One session key for runserver's reloading child and its parent.
    os.environ.setdefault("IVSDEMO_SESSION_KEY", secrets.token_hex(32))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    demo_environment()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivsdemo_django.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
