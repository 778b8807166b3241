"""Where a configuration comes from: discovery, ``extends`` and reading TOML.

First match wins: the ``path`` given (``--config``), ``$IVSECRETS_CONFIG``, else the nearest
``ivsecrets.toml`` or ``pyproject.toml`` with a ``[tool.ivsecrets]`` table (:func:`find_config`),
else the embedded default. A file's ``extends`` names the file it is read on top of: tables merged
key by key, every other value replaced, and :class:`~ivsecrets.config.origins.Origins` remembers
which file each key came from. A document's bytes and text never reach an exception or a frame
that outlives the read.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from ivsecrets.config.build import build
from ivsecrets.config.model import CONFIG_ENV_VAR, EMBEDDED_DEFAULT, Config
from ivsecrets.config.origins import Origins
from ivsecrets.errors import ConfigError, quoted

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["MAX_NESTING", "find_config", "load_config", "parse_config"]

log = logging.getLogger("ivsecrets")

# Deeper than any key this configuration has (environments.P.W.known_hashes[i].user_id is five):
# refused before anything walks the document, so no walk can exhaust the stack.
MAX_NESTING = 16


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Find, read and validate the configuration (see the module docstring for the order).

    Raises ConfigError when a named file is missing or invalid.
    """
    if path is None and os.environ.get(CONFIG_ENV_VAR):
        path = os.environ[CONFIG_ENV_VAR]
        origin = f"${CONFIG_ENV_VAR}"
    else:
        origin = "--config"
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(
                f"configuration file not found ({origin})",
                file=str(file),
                fix="create it with 'ivsecrets init' or point to an existing file",
            )
        log.info("configuration from %s (%s)", file, origin)
        document = _read_file(file, str(file))
        if file.name != "pyproject.toml":
            return _load_file(file, document)
        tool = document.get("tool")
        if not isinstance(tool, dict) or "ivsecrets" not in tool:
            raise ConfigError(
                "this pyproject.toml has no [tool.ivsecrets] table",
                file=str(file),
                fix="add the configuration under [tool.ivsecrets] or name an ivsecrets.toml",
            )
        return _load_file(file, tool["ivsecrets"], pyproject=True)
    found = _nearest(Path.cwd())
    if found is None:
        log.info(
            "no ivsecrets.toml or pyproject.toml with [tool.ivsecrets] from %s up to "
            "the repository root; using the embedded default (each secret from the environment "
            "variable IVSECRETS_<PLATFORM>_<WORKSPACE>)",
            Path.cwd(),
        )
        return build({}, Origins(EMBEDDED_DEFAULT), EMBEDDED_DEFAULT, None)
    file, document = found
    log.info("configuration from %s", file)
    if file.name == "pyproject.toml":
        return _load_file(file, document["tool"]["ivsecrets"], pyproject=True)
    return _load_file(file, document)


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The file :func:`load_config` would read when given no path and no ``$IVSECRETS_CONFIG``.

    The nearest ``ivsecrets.toml``, or ``pyproject.toml`` with a ``[tool.ivsecrets]`` table, from
    ``start`` (default: the working directory) upward; the search ends at a directory holding
    ``.git`` or at the filesystem root. None if there is none. ConfigError if a pyproject.toml on
    the way is not valid TOML.
    """
    found = _nearest(Path(start) if start is not None else Path.cwd())
    return found[0] if found is not None else None


def _nearest(start: Path) -> tuple[Path, dict[str, Any]] | None:
    cwd = Path.cwd()
    for directory in (start, *start.parents):
        candidate = directory / "ivsecrets.toml"
        if candidate.is_file():
            shown = _shown(candidate, cwd)
            return shown, _read_file(candidate, str(shown))
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            shown = _shown(pyproject, cwd)
            document = _read_file(pyproject, str(shown))
            tool = document.get("tool")
            if isinstance(tool, dict) and "ivsecrets" in tool:
                return shown, document
        if (directory / ".git").exists():  # a directory, or a file in a git worktree
            break
    return None


def _shown(file: Path, cwd: Path) -> Path:
    """``file`` as a user would write it from ``cwd``: relative when it is above or below."""
    try:
        return Path(os.path.relpath(file, cwd))
    except ValueError:  # pragma: no cover - another drive on Windows
        return file


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate configuration given as TOML text; ``source`` names it in errors.

    An ``extends`` path in it is taken relative to the directory of ``source``.
    """
    document = _read_toml(text, source)
    del text  # not kept in this frame while the configuration is validated
    return _load_file(Path(source), document, keep_path=False)


def _load_file(
    file: Path, document: object, *, pyproject: bool = False, keep_path: bool = True
) -> Config:
    """Validate ``document``, read from ``file``, on top of the files it extends."""
    name = str(file)
    origins = Origins(name)
    if pyproject:
        origins.prefixes[name] = "tool.ivsecrets."
        if not isinstance(document, dict):
            raise ConfigError(
                f"must be a table, got {type(document).__name__}",
                file=name,
                key="tool.ivsecrets",
                fix="write it as [tool.ivsecrets]",
            )
    assert isinstance(document, dict)
    files = [name]
    data = _extend(file, document, origins, files, (file.resolve(),))
    return build(
        data,
        origins,
        f"{name} [tool.ivsecrets]" if pyproject else name,
        file if keep_path else None,
        files=tuple(files),
    )


def _extend(
    file: Path,
    document: dict[str, Any],
    origins: Origins,
    files: list[str],
    chain: tuple[Path, ...],
) -> dict[str, Any]:
    """``document`` merged on top of the file its ``extends`` names (recursively)."""
    name = str(file)
    base_name = document.get("extends", "")
    key = origins.prefixes.get(name, "") + "extends"
    if not isinstance(base_name, str):
        raise ConfigError(
            f"must be a str, got {quoted(base_name)}",
            file=name,
            key=key,
            fix='extends = "generated.toml" (a path relative to this file)',
        )
    document = {k: v for k, v in document.items() if k != "extends"}
    if not base_name:
        origins.record(document, name)
        return document
    base = file.parent / base_name
    resolved = base.resolve()
    if resolved in chain:
        cycle = " -> ".join([*(str(p) for p in chain), str(resolved)])
        raise ConfigError(
            f"extends forms a cycle: {cycle}",
            file=name,
            key=key,
            fix="remove extends from one of these files",
        )
    if not base.is_file():
        raise ConfigError(
            f"the file it extends was not found: {base}",
            file=name,
            key=key,
            fix="the path is relative to this file; write the generated file there first "
            "(e.g. terraform output -raw ivsecrets_config > generated.toml)",
        )
    files.append(str(base))
    merged = _extend(base, _read_file(base, str(base)), origins, files, (*chain, resolved))
    return _merge(merged, document, name, origins, ())


def _merge(
    base: dict[str, Any],
    overlay: dict[str, Any],
    file: str,
    origins: Origins,
    parts: tuple[str, ...],
) -> dict[str, Any]:
    """``overlay`` on top of ``base``: tables merged key by key, other values replaced."""
    result = dict(base)
    for key, value in overlay.items():
        path = (*parts, key)
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            origins.files[path] = file
            result[key] = _merge(result[key], value, file, origins, path)
        else:
            origins.forget(path)
            origins.files[path] = file
            if isinstance(value, dict):
                origins.record(value, file, path)
            result[key] = value
    return result


def _read_file(file: Path, source: str) -> dict[str, Any]:
    """The TOML document in ``file``; ConfigError if it cannot be read, decoded or parsed.

    The file's bytes and text stay out of every exception raised (and its chain) and out of the
    frames it passes through: they are never bound to a name here.
    """
    return _read_toml(_file_bytes(file, source), source)


def _file_bytes(file: Path, source: str) -> bytes:
    reason = None
    try:
        return file.read_bytes()
    except OSError as err:
        reason = err.strerror
    raise ConfigError(f"cannot read configuration: {reason}", file=source)


def _read_toml(text: str | bytes, source: str) -> dict[str, Any]:
    """Parse TOML (bytes must be UTF-8); ConfigError, with no chained exception and no local
    holding the text, if it is not valid.

    Nesting deeper than any configuration needs is refused, so no later walk can recurse without
    bound; tomllib itself raises RecursionError on a few thousand nested arrays.
    """
    problem = fix = None
    data: dict[str, Any] = {}
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as err:
        problem = f"not UTF-8 text (invalid byte at offset {err.start})"
        fix = "save the file as UTF-8"
    except tomllib.TOMLDecodeError as err:
        problem = f"not valid TOML: {err.args[0] if err.args else err}"
        fix = "correct the TOML syntax at the position shown"
    except RecursionError:
        problem = "not valid here: values nested too deeply"
        fix = f"a configuration nests at most {MAX_NESTING} levels"
    del text
    if problem is not None:
        # Raised outside the except block: no __context__ holding the document.
        raise ConfigError(problem, file=source, fix=fix)
    if _depth(data) > MAX_NESTING:
        raise ConfigError(
            f"values nested too deeply (more than {MAX_NESTING} levels)",
            file=source,
            fix="a configuration needs no more than a few levels of tables",
        )
    return data


def _depth(document: object) -> int:
    """How deeply tables and arrays nest in ``document``, walked without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(document, 0)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_NESTING:
            break
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)
    return deepest
