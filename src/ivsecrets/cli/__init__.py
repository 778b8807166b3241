"""The ``ivsecrets`` command: a thin click layer over the library.

The subcommands live in ``commands``, ``rotation``, ``scan`` and ``verify``, imported when one of
theirs runs (``app.SUBCOMMANDS``).
"""

from __future__ import annotations

from ivsecrets.cli.app import cli, main

__all__ = ["cli", "main"]
