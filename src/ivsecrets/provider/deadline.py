"""The overall deadline of a command's store reads (``--timeout``), whatever the SDK is doing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import monotonic
from typing import Any, TypeVar

from ivsecrets.errors import StoreUnavailableError

__all__ = ["call_within"]

T = TypeVar("T")


def call_within(call: Callable[[], T], deadline: float, budget: float | None, store: str) -> T:
    """``call()``, given up on (in a daemon thread left behind) when ``deadline`` (a
    ``time.monotonic`` reading) passes: StoreUnavailableError naming ``budget`` then."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            outcome.append((False, err))

    worker = threading.Thread(target=run, name=f"ivsecrets-{store}", daemon=True)
    left = deadline - monotonic()
    if left > 0:
        worker.start()
        worker.join(left)
    if not outcome:
        raise StoreUnavailableError(
            f"the store did not answer within the overall timeout of {budget:g} s (--timeout)",
            store=store,
        )
    ok, result = outcome.pop()
    if not ok:
        raise result
    return result  # type: ignore[no-any-return]
