"""``"ivsecrets.integrations.django.context_processors.intercom"``: ``intercom_settings`` in every
template, computed only when a template uses it (for single-page apps that boot the Messenger
themselves).

``{{ intercom_settings|json_script:"intercom-settings" }}`` gives the settings as JSON (Django's
safe pattern); ``{{ intercom_settings }}`` prints the JSON, HTML-escaped (fit for a ``data-``
attribute); ``{{ intercom_settings.app_id }}`` reads one field. When the store or the user data
fails the value is None (``null``), logged, as the template tag leaves the Messenger out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ivsecrets.integrations.django import current_user_data, mark_private, messenger
from ivsecrets.integrations.messenger import IntercomSettings


def intercom(request: Any) -> dict[str, Any]:
    """``{"intercom_settings": <settings of this request's user>}`` (app id only if anonymous).

    The value is a function, which Django's templates call on use (once per request here): a
    plain dict then reaches the filters, where a lazy object would not serialise.
    """
    computed: list[IntercomSettings | None] = []

    def intercom_settings() -> IntercomSettings | None:
        if not computed:
            data = current_user_data(request)
            if data is not None:
                mark_private(request)
            computed.append(messenger().settings_or_none(data))
        return computed[0]

    function: Callable[[], IntercomSettings | None] = intercom_settings
    return {"intercom_settings": function}
