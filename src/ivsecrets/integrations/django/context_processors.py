"""``"ivsecrets.integrations.django.context_processors.intercom"``: ``intercom_settings`` in every
template, computed only when a template uses it (for single-page apps that boot the Messenger
themselves)."""

from __future__ import annotations

from typing import Any

from django.utils.functional import SimpleLazyObject

from ivsecrets.integrations.django import current_user_data, messenger


def intercom(request: Any) -> dict[str, Any]:
    """``{"intercom_settings": <lazy dict>}`` for this request's user (app id only if anonymous)."""
    return {
        "intercom_settings": SimpleLazyObject(
            lambda: messenger().settings(current_user_data(request))
        )
    }
