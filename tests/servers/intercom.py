"""Fixtures for Intercom's secret API: a stateful fake validated against the OpenAPI description.

- ``intercom_api``: a running :class:`FakeIntercomAPI` (``.base_url``, ``.token``, ``.state``,
  ``.fail_next`` / ``.drop_next`` / ``.delay_next``, ``.counts``, ``.requests``), one per test. Its
  teardown fails the test if any request or response broke the description.
- ``intercom_workspace``: builds a ``WorkspaceConfig`` pointing at the fake, with its token in the
  environment variable the config names.
- ``intercom_client``: an ``IntercomClient`` for that workspace with near-zero backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ivsecrets.config import WorkspaceConfig
from ivsecrets.environments import Platform
from ivsecrets.intercom import IntercomClient, RetryPolicy
from tests.servers._intercom_api import FakeIntercomAPI

# Retries in tests: same attempts as in production, but no real waiting.
FAST_RETRY = RetryPolicy(backoff_base=0.001, backoff_max=0.01, max_retry_after=60.0)


@pytest.fixture
def intercom_api() -> Iterator[FakeIntercomAPI]:
    api = FakeIntercomAPI().start()
    try:
        yield api
    finally:
        api.stop()
    api.check()


@pytest.fixture
def intercom_workspace(
    intercom_api: FakeIntercomAPI, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., WorkspaceConfig]:
    def build(
        name: str = "test",
        *,
        platforms: tuple[Platform, ...] = tuple(Platform),
        token: str | None = None,
        set_token: bool = True,
    ) -> WorkspaceConfig:
        variable = f"IVSECRETS_INTERCOM_TOKEN_{name.upper().replace('-', '_')}"
        if set_token:
            monkeypatch.setenv(variable, token or intercom_api.token)
        else:
            monkeypatch.delenv(variable, raising=False)
        return WorkspaceConfig(
            name=name,
            platforms=platforms,
            intercom_region="us",
            intercom_token_env=variable,
            intercom_base_url=intercom_api.base_url,
        )

    return build


@pytest.fixture
def intercom_client(intercom_workspace: Callable[..., WorkspaceConfig]) -> IntercomClient:
    return IntercomClient.from_workspace(
        intercom_workspace(), retry=FAST_RETRY, timeout=5.0, sleep=lambda _: None
    )
