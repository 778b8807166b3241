"""The in-memory store of ivsecrets.testing (the cache tests' double) meets the read contract."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from ivsecrets.testing import MemoryStore, ProviderContract

_names = itertools.count()


class TestMemoryContract(ProviderContract):
    @pytest.fixture
    def provider(self) -> MemoryStore:
        return MemoryStore({})

    @pytest.fixture
    def seed(self, provider: MemoryStore) -> Callable[[str], str]:
        def seed(value: str) -> str:
            provider.values[name := f"secret{next(_names)}"] = value
            return name

        return seed
