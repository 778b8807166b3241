"""The overall deadline of a command's store reads (``--timeout``), whatever the SDK is doing,
and the way a Ctrl-C ends every wait for a store at once (:func:`interrupt`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import monotonic
from typing import Any, TypeVar

from ivsecrets.errors import StoreUnavailableError

__all__ = ["call_within", "interrupt"]

T = TypeVar("T")


class _Wait:
    """One caller waiting for a read: ``done`` is set by the read, or by :func:`interrupt`."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.interrupted = False


# The waits under way, in every thread. A set's add, discard and copy are atomic under the GIL:
# interrupt() runs in a signal handler, where taking a lock the interrupted thread holds would
# deadlock.
_waiting: set[_Wait] = set()
_stopping = False


def interrupt() -> None:
    """End every :func:`call_within` wait at once, in whatever thread, with KeyboardInterrupt,
    and every later one before it starts. For a process that is ending on Ctrl-C: Python
    interrupts only its main thread, and the threads that read stores concurrently would
    otherwise keep the command alive until the deadline. Safe to call from a signal handler."""
    global _stopping
    _stopping = True
    for wait in list(_waiting):
        wait.interrupted = True
        wait.done.set()


def call_within(call: Callable[[], T], deadline: float, budget: float | None, store: str) -> T:
    """``call()``, given up on (in a daemon thread left behind) when ``deadline`` (a
    ``time.monotonic`` reading) passes: StoreUnavailableError naming ``budget`` then.
    KeyboardInterrupt once :func:`interrupt` was called."""
    outcome: list[Any] = []
    wait = _Wait()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            outcome.append((False, err))
        finally:
            wait.done.set()

    worker = threading.Thread(target=run, name=f"ivsecrets-{store}", daemon=True)
    left = deadline - monotonic()
    if left > 0:
        _waiting.add(wait)
        try:
            if _stopping:
                raise KeyboardInterrupt
            worker.start()
            wait.done.wait(left)
        finally:
            _waiting.discard(wait)
    if wait.interrupted and not outcome:
        raise KeyboardInterrupt
    if not outcome:
        raise StoreUnavailableError(
            f"the store did not answer within the overall timeout of {budget:g} s (--timeout)",
            store=store,
        )
    ok, result = outcome.pop()
    if not ok:
        raise result
    return result  # type: ignore[no-any-return]
