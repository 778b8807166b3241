"""``GET <prefix>/intercom/identity/<platform>``: the signed identity for a mobile or SPA client.

The user is the one the project authenticated, however it did: ``request.user`` as Django's
``AuthenticationMiddleware`` (or any middleware) sets it, and, when Django REST framework is
installed, the user of its ``DEFAULT_AUTHENTICATION_CLASSES`` (token, JWT, session...), so a
mobile app calling with a bearer token is answered as on its API.
"""

from __future__ import annotations

import functools
from typing import Any

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from ivsecrets.integrations.django import current_user_data, messenger, user_data_of
from ivsecrets.integrations.messenger import identity_response

__all__ = ["identity"]


def _answer(platform: str, user_data: Any) -> Any:
    status, body, headers = identity_response(messenger(), platform, user_data)
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@require_GET  # type: ignore[untyped-decorator]
def plain_identity(request: Any, platform: str) -> Any:
    """The identity of ``request.user`` signed with ``platform``'s secret (see identity_response).

    The identity comes only from the session; query, body and headers are never read.
    """
    return _answer(platform, lambda: current_user_data(request))


def identity(request: Any, platform: str) -> Any:
    """The endpoint: behind REST framework's authentication when it is installed."""
    view = _rest_framework_view()
    if view is None:
        return plain_identity(request, platform)
    return view(request, platform=platform)


@functools.cache
def _rest_framework_view() -> Any:
    # Imported on first use: REST framework reads the Django settings at import.
    try:
        from rest_framework.settings import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
            api_settings,
        )
        from rest_framework.views import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
            APIView,
        )
    except ImportError:
        return None

    class IdentityView(APIView):  # type: ignore[misc]
        """The identity endpoint behind REST framework's authentication classes."""

        permission_classes: list[Any] = []  # the 401 is ours
        throttle_classes: list[Any] = []

        def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            # REST framework overwrites request.user with its own result: keep the middleware's.
            self.middleware_user = getattr(request, "user", None)
            return super().dispatch(request, *args, **kwargs)

        def get_authenticators(self) -> list[Any]:
            """The project's DEFAULT_AUTHENTICATION_CLASSES as they are now (not at import)."""
            return [cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]

        def perform_authentication(self, request: Any) -> None:
            """Lazy: REST framework authenticates only a request no middleware has."""

        def get(self, request: Any, platform: str) -> Any:
            def user_data() -> Any:
                user = self.middleware_user
                if user is None or not user.is_authenticated:
                    user = request.user  # REST framework's authentication classes run here
                return user_data_of(user)

            return _answer(platform, user_data)

        def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
            response = super().finalize_response(request, response, *args, **kwargs)
            response["Cache-Control"] = "no-store"  # REST framework's own 401s too
            return response

    return IdentityView.as_view()
