"""``manage.py check``: the configuration loads, the served workspace and its app_id exist, and the
web secret resolves (read once through the cache)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from ivsecrets.integrations.django import messenger


def check_intercom(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """One ``checks.Error`` per problem :meth:`Messenger.problems` finds."""
    return [
        checks.Error(problem.message, hint=problem.hint or None, id=problem.code)
        for problem in messenger().problems()
    ]
