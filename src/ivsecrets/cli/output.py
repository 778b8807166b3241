"""How the commands write text for people (rich markup) and for CI (GitHub workflow commands).

Every string that comes from configuration, a store, a file name or a check is data, never markup
or a command: ``markup`` and ``annotation`` are the one escape of each kind the commands (and
``make demo``) use. rich is imported when a table is drawn, not when a command starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ivsecrets.cli.app import State

__all__ = ["annotation", "markup", "report_console"]


def markup(text: str) -> str:
    """``text`` shown as written in rich output: a ``[`` that could open a tag is escaped.

    >>> markup("[stores.file] path")
    '\\\\[stores.file] path'
    """
    from rich.markup import escape

    return escape(text)


def annotation(text: str, *, property: bool = False) -> str:
    """``text`` as data in a GitHub Actions workflow command: its message, or with ``property``
    the value of a property (``file=``, ``title=``), where ``:`` and ``,`` are separators too.

    >>> annotation("a: b, c\\n", property=True)
    'a%3A b%2C c%0A'
    """
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property else text


def report_console(state: State, output: Any) -> Console:
    """A console that draws a report into ``output`` (``--output``, or standard output)."""
    from rich.console import Console

    return Console(
        file=output,
        no_color=not state.color,
        highlight=False,
        width=None if output.isatty() else 160,  # pipelines get room, not 80 columns
    )
