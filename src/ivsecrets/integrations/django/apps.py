"""The Django app that registers the ivsecrets system checks."""

from __future__ import annotations

from django.apps import AppConfig


class IVSecretsIntercomConfig(AppConfig):  # type: ignore[misc]
    name = "ivsecrets.integrations.django"
    label = "ivsecrets_intercom"
    verbose_name = "ivsecrets Intercom Messenger"

    def ready(self) -> None:
        from django.core import checks

        from ivsecrets.integrations.django.checks import check_intercom

        checks.register(check_intercom, "ivsecrets")
