"""``ivsecrets rotate``, ``finish``, ``abort``, ``settle`` and ``rollback``: the Rotator's steps.

Each command is one ``Rotator`` method of the same name; ``rotate --finish`` and ``rotate
--abort`` are kept as aliases of ``finish`` and ``abort``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ivsecrets.cli.app import CliError, F, State, cli, environment_arguments, pass_state

if TYPE_CHECKING:
    from ivsecrets.rotation import RotationResult, Rotator
    from ivsecrets.secret import SecretValue


def _grace_option(help: str) -> Callable[[F], F]:
    return click.option("--grace", type=float, metavar="SECONDS", help=help)


@cli.command()
@environment_arguments
@click.option(
    "--from-intercom",
    is_flag=True,
    help="Create the new secret with Intercom's API (POST /secure_mode_secrets).",
)
@click.option(
    "--from-file",
    type=click.File("r"),
    help="Read the new secret from this file ('-' for standard input).",
)
@click.option("--finish", is_flag=True, help="The same as 'ivsecrets finish'.")
@click.option("--abort", is_flag=True, help="The same as 'ivsecrets abort'.")
@_grace_option("With --finish: the grace period (default: cache TTL + max_stale).")
@click.option(
    "--update-config",
    is_flag=True,
    help="Write the new fingerprint as the environment's pin in the config file.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Rotate even though the previous secret is still inside its grace period (backends "
    "may still sign with it). Never overrides another run's lease.",
)
@pass_state
def rotate(
    state: State,
    platform: str,
    workspace: str,
    from_intercom: bool,
    from_file: Any,
    finish: bool,
    abort: bool,
    grace: float | None,
    update_config: bool,
    force: bool,
) -> None:
    """Rotate an environment's secret: stage, check, promote.

    The new secret comes from Intercom (--from-intercom), a file (--from-file), standard input
    when it is not a terminal, or a hidden prompt: never from the command line. Re-running an
    interrupted rotation continues where it stopped. --finish and --abort are aliases of
    'ivsecrets finish' and 'ivsecrets abort'.
    """
    if sum((from_intercom, from_file is not None, finish, abort)) > 1:
        raise CliError("choose one of --from-intercom, --from-file, --finish, --abort", 2)
    if grace is not None and not finish:
        raise CliError("--grace goes with --finish", 2)
    if force and (finish or abort):
        raise CliError("--force goes with a rotation, not --finish or --abort", 2)
    if finish or abort:
        # The aliases. --update-config writes no pin here (the current secret stays), and keeps
        # silencing the stale-pin warning, as it always did on these paths.
        rotator = _rotator(state)
        if finish:
            result = rotator.finish(platform, workspace, grace=grace)
        else:
            result = rotator.abort(platform, workspace)
        _conclude(state, result, warn_stale_pin=not update_config)
        return
    rotator = _rotator(state)
    staged = rotator.state(platform, workspace).pending is not None
    value = None if from_intercom or staged else _read_new_secret(from_file)
    result = rotator.rotate(
        platform,
        workspace,
        new_value=value,
        from_intercom=from_intercom and not staged,
        force=force,
    )
    if update_config and result.fingerprint:
        _update_pin(state, result)
    _conclude(state, result, warn_stale_pin=not update_config)


@cli.command()
@environment_arguments
@_grace_option("The grace period (default: cache TTL + max_stale).")
@pass_state
def finish(state: State, platform: str, workspace: str, grace: float | None) -> None:
    """After the grace period: delete the previous secret at Intercom and retire it in the store.

    The grace period runs from when the current version became current. Also 'ivsecrets rotate
    --finish'.
    """
    _conclude(state, _rotator(state).finish(platform, workspace, grace=grace))


@cli.command()
@environment_arguments
@pass_state
def abort(state: State, platform: str, workspace: str) -> None:
    """Discard a staged, unpromoted rotation (and delete its Intercom secret).

    Also 'ivsecrets rotate --abort'.
    """
    _conclude(state, _rotator(state).abort(platform, workspace))


@cli.command()
@environment_arguments
@pass_state
def settle(state: State, platform: str, workspace: str) -> None:
    """Take an expired lease over and clean up what a dead run left, nothing else.

    Deletes the Intercom secrets a dead run created that no version references, and records a
    promotion it made but did not record. Refused while another run holds the lease.
    """
    _conclude(state, _rotator(state).settle(platform, workspace))


@cli.command()
@environment_arguments
@click.option(
    "--update-config", is_flag=True, help="Write the restored fingerprint as the environment's pin."
)
@click.option(
    "--force",
    is_flag=True,
    help="Roll back even when the previous secret's Intercom liveness cannot be checked "
    "(no Intercom token for the workspace).",
)
@pass_state
def rollback(state: State, platform: str, workspace: str, update_config: bool, force: bool) -> None:
    """Make the previous version current again (refused once its Intercom secret is deleted,
    and when that cannot be checked, unless --force)."""
    result = _rotator(state).rollback(platform, workspace, force=force)
    if update_config and result.fingerprint:
        _update_pin(state, result)
    _conclude(state, result, warn_stale_pin=not update_config)


def _rotator(state: State) -> Rotator:
    from ivsecrets.rotation import Rotator

    return Rotator(state.config, secrets=state.secrets)


def _conclude(state: State, result: RotationResult, *, warn_stale_pin: bool = True) -> None:
    """Print what a command did, and warn when the pinned fingerprint no longer names the
    current secret (unless --update-config has just written it)."""
    _report(result)
    if warn_stale_pin:
        _warn_stale_pin(state, result)


def _read_new_secret(source: Any) -> SecretValue:
    from ivsecrets.secret import SecretValue

    if source is not None:
        text = source.read()
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        text = click.prompt(
            "New secret (input hidden)",
            hide_input=True,
            confirmation_prompt=True,
            prompt_suffix=": ",
        )
    text = _drop_line_ending(text)
    if not text:
        raise CliError("no new secret was given", 2)
    return SecretValue(text)


def _drop_line_ending(text: str) -> str:
    """The value without the one line ending a file or pipe adds (``\\n`` or ``\\r\\n``).

    Anything else is the operator's value: surrounding whitespace is refused, never silently
    changed, with a message that says which whitespace, so the rule and the message agree.
    """
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            text = text[: -len(ending)]
            break
    if text == text.strip():
        return text
    if text[:1].isspace():
        problem = "leading whitespace"
    elif text.endswith(("\n", "\r")):
        problem = "more than one line ending"
    else:
        problem = "trailing whitespace"
    raise CliError(
        f"the new secret has {problem}; one line ending is accepted, anything else is "
        "refused: write the value without it, e.g. printf '%s' instead of echo",
        1,
    )


def _update_pin(state: State, result: RotationResult) -> None:
    from ivsecrets.config.pins import write_pin

    path = state.config.path
    if path is None:
        raise CliError(
            "--update-config needs a configuration file (--config or "
            "./ivsecrets.toml); the rotation itself succeeded",
            2,
        )
    assert result.fingerprint is not None
    write_pin(Path(path), result.environment, result.fingerprint)
    click.echo(f"pinned {result.environment} to {result.fingerprint} in {path}")


def _warn_stale_pin(state: State, result: RotationResult) -> None:
    """Say so when the environment's pinned fingerprint no longer names its current secret."""
    env = result.environment
    pinned = state.config.environments[env].fingerprint
    if pinned is None or result.fingerprint is None or result.fingerprint == pinned:
        return
    path = state.config.path
    where = f" in {path}" if path else ""
    config_option = f"--config {path} " if path else ""
    table = f"[environments.{env.platform.value}.{env.workspace}]"
    pin_line = f'fingerprint = "{result.fingerprint}"'
    click.echo(
        f"  warning: the pin {pinned}{where} now fails 'ivsecrets verify' (the current secret "
        f"is {result.fingerprint}); write {pin_line} under {table} instead (as 'ivsecrets "
        f"{config_option}fingerprint' prints it); next time, pass --update-config to rotate",
        err=True,
    )


def _report(result: RotationResult) -> None:
    click.echo(
        f"{result.environment}: {result.action}"
        + (f"; current secret {result.fingerprint}" if result.fingerprint else "")
        + (f" (was {result.previous_fingerprint})" if result.previous_fingerprint else "")
    )
    for note in result.notes:
        click.echo(f"  {note}")
