"""The env store against the real process environment."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from ivsecrets.config import StoreConfig
from ivsecrets.plugins.env import EnvProvider
from ivsecrets.provider import Provider
from ivsecrets.testing import ProviderContract

_names = itertools.count()


class TestEnvContract(ProviderContract):
    unknown_option = ("prefix", None)  # the env plugin declares no option

    @pytest.fixture
    def provider(self) -> Provider:
        return EnvProvider(StoreConfig("env", "env"))

    @pytest.fixture
    def seed(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
        def seed(value: str) -> str:
            name = f"IVSECRETS_CONTRACT_{next(_names)}"
            monkeypatch.setenv(name, value)
            return name

        yield seed
