"""The root command group, its shared state and the mapping of errors to exit codes.

Exit codes, for every command: 0 success; 1 a check failed (or a command's own negative answer);
2 usage or configuration error; 3 a store or Intercom could not be reached or denied access;
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from ivsecrets.environments import Environment, Platform
from ivsecrets.errors import (
    AccessDeniedError,
    ConfigError,
    IdentifierError,
    IntercomAPIError,
    IVSecretsError,
    StoreUnavailableError,
    closest,
)

if TYPE_CHECKING:
    from rich.console import Console

    from ivsecrets.api import Secrets
    from ivsecrets.config import Config

F = TypeVar("F", bound=Callable[..., Any])
#: Seconds a command waits for its stores in all, unless ``--timeout`` says otherwise: longer
#: than a healthy store ever takes, far shorter than SDK retries against a dead one.
DEFAULT_TIMEOUT = 20.0
INTERRUPTED = 130  # the shell's exit status for a process ended by SIGINT
_interrupted: list[bool] = []  # not empty once a Ctrl-C arrived


class CliError(click.ClickException):
    """A failure with the exit code DESIGN.md gives it."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance too

    def show(self, file: Any = None) -> None:
        click.echo(f"ivsecrets: error: {self.format_message()}", err=True)


#: The library's names of the identifiers, and the flags that give them on the command line.
_IDENTIFIER_FLAGS = {"user_id": "--user-id", "email": "--email"}


def cli_message(err: IVSecretsError) -> str:
    """The error as the command line says it: an identifier by its flag (``--user-id``), not by
    the library's argument name (``user_id``)."""
    text = str(err)
    if isinstance(err, IdentifierError):
        text = re.sub(r"\b(user_id|email)\b", lambda m: _IDENTIFIER_FLAGS[m[1]], text)
    return text


def exit_code_of(err: IVSecretsError | click.ClickException) -> int:
    """The exit code a command ends with for ``err`` (a library or a command-line error)."""
    return err.exit_code if isinstance(err, click.ClickException) else exit_code_for(err)


def exit_code_for(err: IVSecretsError) -> int:
    # A missing or unusable identifier is the caller's input, like an unknown --platform.
    if isinstance(err, (ConfigError, IdentifierError)):
        return 2
    if isinstance(err, (AccessDeniedError, StoreUnavailableError, IntercomAPIError)):
        return 3
    return 1


class _Prefixed(logging.Formatter):
    """``ivsecrets: <message>`` (the logger's top-level name), never the prefix twice."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = record.name.partition(".")[0] + ": "
        return text if text.startswith(prefix) else prefix + text


@dataclass
class State:
    """What every subcommand gets through ``ctx.obj``: options, and config loaded on demand."""

    config_path: str | None = None
    verbose: int = 0
    quiet: bool = False
    color: bool = True
    #: Seconds every store read of the command may take in all (``--timeout``); None: no limit.
    timeout: float | None = DEFAULT_TIMEOUT
    _config: Config | None = field(default=None, repr=False)
    _secrets: Secrets | None = field(default=None, repr=False)
    _saved_level: int | None = field(default=None, repr=False)

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
            for provider in self._secrets.providers.values():
                provider.set_deadline(self.timeout)
        return self._secrets

    def configure_logging(self) -> None:
        """Log to stderr at the level ``-v``/``-q`` ask for."""
        levels = (logging.WARNING, logging.INFO, logging.DEBUG)
        level = logging.ERROR if self.quiet else levels[min(self.verbose, 2)]
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Prefixed("%(message)s"))
        logging.basicConfig(level=level, handlers=[handler])  # unless the root has handlers
        logger = logging.getLogger("ivsecrets")
        if self._saved_level is None:
            self._saved_level = logger.level  # put back by close(): a command is not a process
        logger.setLevel(level)

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
        if self._saved_level is not None:
            logging.getLogger("ivsecrets").setLevel(self._saved_level)


pass_state = click.make_pass_decorator(State)


def _global_options(group: bool) -> list[click.Option]:
    """``--config``, ``-v``, ``-q``, ``--no-color``: on the root group, and on every subcommand too,
    so that ``ivsecrets verify --config deploy/ivsecrets.toml`` works as the docs write it."""
    callback = None if group else _override_state
    return [
        click.Option(
            ["--config", "config_path"],
            type=click.Path(dir_okay=False),
            # $IVSECRETS_CONFIG is read by load_config, not by click: an error in it is then
            # blamed on the variable, not on an option the user never typed.
            expose_value=group,
            callback=callback,
            help="Configuration file (default: $IVSECRETS_CONFIG, else ivsecrets.toml or "
            "[tool.ivsecrets] in pyproject.toml, searched upward from here; else the embedded "
            "default).",
        ),
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=group,
            callback=callback,
            help="More log output (repeat for debug).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=group,
            callback=callback,
            help="Only errors; the exit code tells the rest.",
        ),
        click.Option(
            ["--timeout"],
            type=click.FloatRange(min=0, min_open=True),
            default=DEFAULT_TIMEOUT if group else None,
            envvar="IVSECRETS_TIMEOUT" if group else None,
            expose_value=group,
            callback=callback,
            metavar="SECONDS",
            help=f"Give up on a store that has not answered after this long in all "
            f"(default {DEFAULT_TIMEOUT:g}).",
        ),
        click.Option(
            ["--no-color"],
            is_flag=True,
            envvar="NO_COLOR" if group else None,
            expose_value=group,
            callback=callback,
            help="Plain output.",
        ),
    ]


def _override_state(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after the subcommand wins over one given before it."""
    if ctx.get_parameter_source(param.name or "") is not ParameterSource.COMMANDLINE:
        return
    state = ctx.find_object(State)
    if state is None:  # pragma: no cover - the root group always makes one
        return
    if param.name == "config_path":
        state.config_path = value
    elif param.name == "verbose":
        state.verbose = max(state.verbose, value)
    elif param.name == "quiet":
        state.quiet = value
    elif param.name == "timeout":
        state.timeout = value
    else:
        state.color = not value
    state.configure_logging()


class _Command(click.Command):
    """Every subcommand also accepts the global options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_global_options(group=False))


#: Where each subcommand is defined. A module is imported when its command runs (or for
#: ``--help``): ``ivsecrets scan`` in a pre-commit hook does not load the rotation machinery.
SUBCOMMANDS = {
    "abort": "ivsecrets.cli.rotation",
    "config-check": "ivsecrets.cli.scan",
    "diagnose": "ivsecrets.cli.commands",
    "finish": "ivsecrets.cli.rotation",
    "fingerprint": "ivsecrets.cli.commands",
    "hash": "ivsecrets.cli.commands",
    "init": "ivsecrets.cli.commands",
    "jwt": "ivsecrets.cli.commands",
    "rollback": "ivsecrets.cli.rotation",
    "rotate": "ivsecrets.cli.rotation",
    "scan": "ivsecrets.cli.scan",
    "settle": "ivsecrets.cli.rotation",
    "status": "ivsecrets.cli.commands",
    "verify": "ivsecrets.cli.verify",
}


class _Group(click.Group):
    """Translates library errors into messages and exit codes, once, for every command.

    Subcommands are loaded on first use (``SUBCOMMANDS``); their modules register them with
    ``@cli.command()`` as they are imported.
    """

    command_class = _Command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(SUBCOMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in SUBCOMMANDS:
            import_module(SUBCOMMANDS[cmd_name])
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = closest(name, self.list_commands(ctx))
            if close and not ctx.resilient_parsing:
                ctx.fail(f"No such command {name!r}. Did you mean {close[0]!r}?")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IVSecretsError as err:
            raise CliError(cli_message(err), exit_code_for(err)) from None
        except KeyboardInterrupt:
            # Not click's "Aborted!" with exit 1, which reads as "a check failed".
            click.echo("ivsecrets: interrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.close()


# -- options several commands share, declared once ------------------------------------------------

PLATFORM = click.Choice([p.value for p in Platform], case_sensitive=False)


def environment_filter_options(f: F) -> F:
    """``--platform`` and ``--workspace`` (repeatable): only these environments."""
    f = click.option(
        "--workspace",
        "workspaces",
        multiple=True,
        metavar="WORKSPACE",
        help="Only this workspace (repeatable).",
    )(f)
    return click.option(
        "--platform",
        "platforms",
        multiple=True,
        metavar="PLATFORM",
        help="Only this platform (repeatable): web, ios, android.",
    )(f)


def selected_environments(
    config: Config, platforms: tuple[str, ...], workspaces: tuple[str, ...]
) -> list[Environment]:
    """The configured environments ``--platform``/``--workspace`` select (all without them);
    a ConfigError naming the option for a platform or workspace the configuration lacks."""
    try:
        chosen_platforms = {Platform.parse(p) for p in platforms}
    except ValueError as err:
        raise ConfigError(str(err), key="--platform") from None
    chosen_workspaces = {w.lower() for w in workspaces}
    for name in sorted(chosen_workspaces - set(config.workspaces)):
        close = closest(name, list(config.workspaces))
        raise ConfigError(
            f"workspace '{name}' is not configured in {config.source}",
            key="--workspace",
            fix=(f"did you mean {close[0]!r}? " if close else "")
            + f"choose from {', '.join(config.workspaces)}, or add it to workspaces = [...]",
        )
    return [
        env
        for env in config.environments
        if (not chosen_platforms or env.platform in chosen_platforms)
        and (not chosen_workspaces or env.workspace in chosen_workspaces)
    ]


def environment_arguments(f: F) -> F:
    """``PLATFORM WORKSPACE``: the environment a command acts on."""
    f = click.argument("workspace")(f)
    return click.argument("platform", type=PLATFORM)(f)


def format_option(*choices: str, help: str = "Output format.") -> Callable[[F], F]:
    """``--format``, with the first choice as the default."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=help,
    )


def output_option(f: F) -> F:
    """``--output``/``-o``: where a report goes instead of standard output."""
    # Opened at once, not on first write: a path that cannot be written is a usage error (exit
    # 2, naming --output and the reason) before any work, not an OSError after it.
    return click.option(
        "--output",
        "-o",
        type=click.File("w", lazy=False),
        default="-",
        help="Write the report here instead of standard output.",
    )(f)


def identifier_options(f: F) -> F:
    """``--user-id`` and ``--email``: the identifiers the Messenger sends."""
    f = click.option("--email", help="The email the Messenger sends.")(f)
    return click.option("--user-id", help="The user_id the Messenger sends.")(f)


@click.group(
    cls=_Group,
    params=_global_options(group=True),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="ivsecrets", prog_name="ivsecrets")  # read on --version only
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    verbose: int,
    quiet: bool,
    timeout: float,
    no_color: bool,
) -> None:
    """Intercom identity-verification secrets: serve, verify and rotate them.

    Shell completion: eval "$(_IVSECRETS_COMPLETE=bash_source ivsecrets)" (or zsh_source,
    fish_source).
    """
    ctx.obj = State(config_path, verbose, quiet, not no_color, timeout)
    ctx.obj.configure_logging()


def main() -> None:
    """Console-script entry point. Ctrl-C ends the command at once with exit 130, whatever its
    threads are waiting for: the first unwinds it (``finally`` blocks run), a second while that
    hangs ends the process."""
    signal.signal(signal.SIGINT, _on_interrupt)
    try:
        cli(prog_name="ivsecrets")
    except SystemExit as done:
        if done.code == INTERRUPTED:
            _exit_now()
        raise


def _on_interrupt(signum: int, frame: object) -> None:
    from ivsecrets.provider.deadline import interrupt

    if _interrupted:
        click.echo("ivsecrets: interrupted", err=True)
        _exit_now()
    _interrupted.append(True)
    interrupt()  # the threads waiting on a store, which Python does not interrupt
    raise KeyboardInterrupt


def _exit_now() -> None:
    """Exit 130 without waiting for threads still blocked in a store's SDK (they are given up
    on, as at the deadline)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(INTERRUPTED)
