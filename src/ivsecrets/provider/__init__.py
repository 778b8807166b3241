"""The provider base classes every store plugin extends, and plugin discovery.

``Provider`` reads; ``WritableProvider(Provider)`` also rotates, and its rotation steps are
abstract, so which stores can rotate is visible to a reader and to mypy. The package:

- :mod:`.options`: declared ``Option``s, the lazily built SDK client (``LazyClient``), the SDK log
  filter;
- :mod:`.payload`: ``Reference``, ``Fetched`` and the checks that turn a payload into a ``Secret``;
- :mod:`.base`: ``Provider``, the read base (deadline in :mod:`.deadline`);
- :mod:`.writable`: ``WritableProvider``, the abstract rotation steps and versions with their times;
- :mod:`.record`: the rotation record kept beside each secret (``RotationRecord``, ``Lease``,
  ``JournalEntry``); the lease protocol on top of it is a workflow
  (:mod:`ivsecrets.rotation.lease`);
- :mod:`.discovery`: the ``ivsecrets.providers`` entry-point group and the template
  ``ivsecrets init`` writes.

A plugin implements only the store-specific calls: ``_fetch`` (and ``_fetch_current_many`` where
the store has a batch read), ``_translate``, and for a writable store ``_stage``, ``_promote``,
``_rollback``, ``_retire_previous``, ``_discard_pending`` and its record's compare-and-set
``_read_record``/``_write_record``. A plugin module must not import its SDK at import time, so
``import ivsecrets`` stays light.
"""

from __future__ import annotations

from ivsecrets.provider.base import Provider
from ivsecrets.provider.discovery import (
    ENTRY_POINT_GROUP,
    config_template,
    installed_plugins,
    load_plugin,
)
from ivsecrets.provider.options import ALLOW_CUSTOM_CREDENTIALS, LazyClient, Option
from ivsecrets.provider.payload import Fetched, Reference
from ivsecrets.provider.record import JournalEntry, Lease, RotationRecord
from ivsecrets.provider.writable import WritableProvider

__all__ = [
    "ALLOW_CUSTOM_CREDENTIALS",
    "ENTRY_POINT_GROUP",
    "Fetched",
    "JournalEntry",
    "LazyClient",
    "Lease",
    "Option",
    "Provider",
    "Reference",
    "RotationRecord",
    "WritableProvider",
    "config_template",
    "installed_plugins",
    "load_plugin",
]
