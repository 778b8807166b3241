"""Reusable test suites and doubles for store plugins (like ``keyring.testing``).

A store's test module subclasses the contract its store meets and provides the fixtures the
contract names: :class:`ProviderContract` (reading), :class:`WritableProviderContract` (rotation)
and :class:`RemoteProviderContract` (a store behind a network: outages, denials, missing extras,
client resets, SDK logs). :class:`MemoryStore` is an in-memory provider for cache tests, and
:class:`FakeClock` a clock they move by hand instead of sleeping out a TTL.

Test-only: this package imports pytest, and ``import ivsecrets`` never imports it.
"""

from __future__ import annotations

from ivsecrets.testing.clock import FakeClock
from ivsecrets.testing.contracts import (
    ENV,
    SECRET_A,
    SECRET_B,
    SECRET_C,
    ProviderContract,
    Seed,
    WritableProviderContract,
)
from ivsecrets.testing.memory import MemoryStore
from ivsecrets.testing.remote import (
    Denial,
    Outage,
    ProviderFactory,
    RemoteProviderContract,
    secrets_over,
)

__all__ = [
    "ENV",
    "SECRET_A",
    "SECRET_B",
    "SECRET_C",
    "Denial",
    "FakeClock",
    "MemoryStore",
    "Outage",
    "ProviderContract",
    "ProviderFactory",
    "RemoteProviderContract",
    "Seed",
    "WritableProviderContract",
    "secrets_over",
]
