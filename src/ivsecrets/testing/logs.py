"""Every log line a test produced, at any level, for scanning it for secret values."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["recorded_log_lines"]


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def recorded_log_lines() -> Iterator[list[str]]:
    """Record every record that reaches the root logger, DEBUG included, as formatted lines.

    The list is filled while the block runs; the root logger's level is restored after it.
    """
    recorder = _Recorder()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        yield recorder.lines
    finally:
        root.removeHandler(recorder)
        root.setLevel(old_level)
