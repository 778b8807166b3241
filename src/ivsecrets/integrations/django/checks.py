"""``manage.py check``: the configuration loads, the served workspace and its app_id exist, the
web secret resolves (read once through the cache), and the IntercomMiddleware is installed."""

from __future__ import annotations

from typing import Any

from django import conf
from django.core import checks

from ivsecrets.integrations.django import messenger

MIDDLEWARE = "ivsecrets.integrations.django.middleware.IntercomMiddleware"


def check_intercom(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """One ``checks.Error`` per problem :meth:`Messenger.problems` finds; a warning without the
    middleware."""
    found: list[Any] = [
        checks.Error(problem.message, hint=problem.hint or None, id=problem.code)
        for problem in messenger().problems()
    ]
    if MIDDLEWARE not in (getattr(conf.settings, "MIDDLEWARE", None) or ()):
        found.append(
            checks.Warning(
                f"{MIDDLEWARE} is not in MIDDLEWARE: pages carrying a signed Intercom user are "
                "sent without Cache-Control: private, so a shared cache may serve them to others",
                hint=f'add "{MIDDLEWARE}" to MIDDLEWARE',
                id="ivsecrets.W001",
            )
        )
    return found
