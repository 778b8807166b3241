"""The CLI's table of where each subcommand lives (loaded on first use) matches the modules."""

from __future__ import annotations

from importlib import import_module

from ivsecrets.cli.app import SUBCOMMANDS, cli


def test_every_subcommand_is_in_the_table_and_in_the_module_it_names() -> None:
    for module in set(SUBCOMMANDS.values()):
        import_module(module)
    assert set(cli.commands) == set(SUBCOMMANDS)
    for name, command in cli.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == SUBCOMMANDS[name], name
