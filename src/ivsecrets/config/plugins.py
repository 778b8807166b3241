"""What the configuration knows of the installed store plugins: their names (a store named after
a plugin needs no ``[stores.NAME]`` table) and the reference template each declares for the
environments that name none (``Provider.default_reference``), so a third-party plugin gets a
default too.

Both come from the ``ivsecrets.providers`` entry-point group, read once per process; a plugin's
module is imported only when its default is needed. The configuration layer imports no plugin.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["ENTRY_POINT_GROUP", "default_reference", "plugin_entry_points"]

ENTRY_POINT_GROUP = "ivsecrets.providers"


@functools.lru_cache(maxsize=1)
def plugin_entry_points() -> dict[str, EntryPoint]:
    """The installed store plugins by name (the first of a duplicated name wins)."""
    from importlib.metadata import entry_points  # ~5 ms: only when a configuration is built

    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry)
    return found


def default_reference(plugin: str) -> str | None:
    """The reference template plugin ``plugin`` declares (None: it has none, or no such plugin)."""
    entry = plugin_entry_points().get(plugin)
    if entry is None:
        return None
    template = getattr(entry.load(), "default_reference", None)
    return template if isinstance(template, str) else None
