"""``"ivsecrets.integrations.django.middleware.IntercomMiddleware"``: ``Cache-Control: private``
on every response that carries a signed user (a JWT or a user_hash), so that no shared cache
keeps one user's page for another (``Vary: Cookie`` alone leaves that to the cache).
"""

from __future__ import annotations

from typing import Any

from django.utils.cache import patch_cache_control

from ivsecrets.integrations.django import PRIVATE_ATTRIBUTE

__all__ = ["IntercomMiddleware"]


class IntercomMiddleware:
    """Marks the responses of requests the template tag or context processor signed a user on."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if getattr(request, PRIVATE_ATTRIBUTE, False):
            patch_cache_control(response, private=True)
        return response
