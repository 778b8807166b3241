"""``{% load ivsecrets_intercom %}{% intercom_messenger %}``: the Messenger for this request."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.utils.safestring import mark_safe

from ivsecrets.integrations.django import current_user_data, mark_private, messenger

register = template.Library()


@register.simple_tag(takes_context=True)  # type: ignore[untyped-decorator]
def intercom_messenger(context: Any) -> Any:
    """The settings and loader ``<script>``; uses the CSP nonce of Django or django-csp if any."""
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            "{% intercom_messenger %} needs the request in the template context: add "
            "'django.template.context_processors.request' to the template context_processors"
        )
    nonce = context.get("csp_nonce") or getattr(request, "csp_nonce", None)

    def user() -> Any:
        data = current_user_data(request)
        if data is not None:
            mark_private(request)
        return data

    markup = messenger().render_page(
        user, getattr(request, "session", None), nonce=str(nonce) if nonce else None
    )
    return mark_safe(markup)  # noqa: S308 - built by Messenger.snippet, every value JSON-escaped
