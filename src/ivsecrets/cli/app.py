"""The root command group, its shared state and the mapping of errors to exit codes.

Exit codes, for every command: 0 success; 1 a check failed (or a command's own negative answer);
2 usage or configuration error; 3 a store or Intercom could not be reached or denied access.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ivsecrets import __version__
from ivsecrets.errors import (
    AccessDeniedError,
    ConfigError,
    IntercomAPIError,
    IVSecretsError,
    StoreUnavailableError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from ivsecrets.api import Secrets
    from ivsecrets.config import Config

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A failure with the exit code DESIGN.md gives it."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance too

    def show(self, file: Any = None) -> None:
        click.echo(f"ivsecrets: error: {self.format_message()}", err=True)


def exit_code_for(err: IVSecretsError) -> int:
    if isinstance(err, ConfigError):
        return 2
    if isinstance(err, (AccessDeniedError, StoreUnavailableError, IntercomAPIError)):
        return 3
    return 1


@dataclass
class State:
    """What every subcommand gets through ``ctx.obj``: options, and config loaded on demand."""

    config_path: str | None = None
    verbose: int = 0
    quiet: bool = False
    color: bool = True
    _config: Config | None = field(default=None, repr=False)
    _secrets: Secrets | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from ivsecrets.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def secrets(self) -> Secrets:
        if self._secrets is None:
            from ivsecrets.api import Secrets

            self._secrets = Secrets(self.config)
        return self._secrets

    def console(self, *, stderr: bool = False) -> Console:
        from rich.console import Console

        return Console(
            stderr=stderr,
            no_color=not self.color,
            highlight=False,
            width=None if sys.stdout.isatty() else 160,  # pipelines get room, not 80 columns
            quiet=self.quiet and not stderr,
        )

    def close(self) -> None:
        if self._secrets is not None:
            self._secrets.close()


pass_state = click.make_pass_decorator(State)


class _Group(click.Group):
    """Translates library errors into messages and exit codes, once, for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IVSecretsError as err:
            raise CliError(str(err), exit_code_for(err)) from None
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.close()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="IVSECRETS_CONFIG",
    help="Configuration file (default: ./ivsecrets.toml, "
    "[tool.ivsecrets] in ./pyproject.toml, else the embedded default).",
)
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; the exit code tells the rest.")
@click.option("--no-color", is_flag=True, envvar="NO_COLOR", help="Plain output.")
@click.version_option(__version__, prog_name="ivsecrets")
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, verbose: int, quiet: bool, no_color: bool
) -> None:
    """Intercom identity-verification secrets: serve, verify and rotate them.

    Shell completion: eval "$(_IVSECRETS_COMPLETE=bash_source ivsecrets)" (or zsh_source,
    fish_source).
    """
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    logging.getLogger("ivsecrets").setLevel(level)
    ctx.obj = State(config_path, verbose, quiet, not no_color)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ivsecrets")
