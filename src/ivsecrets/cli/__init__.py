"""The ``ivsecrets`` command: a thin click layer over the library."""

from __future__ import annotations

# Importing the command modules registers their subcommands on ``cli``.
from ivsecrets.cli import commands, rotation, scan, verify
from ivsecrets.cli.app import cli, main

__all__ = ["cli", "commands", "main", "rotation", "scan", "verify"]
