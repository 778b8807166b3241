"""How the Intercom client retries: a bounded number of attempts with jittered exponential
backoff, and the wait a 429 answer asks for (``Retry-After`` or ``X-RateLimit-Reset``)."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["RetryPolicy", "retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry (seconds). ``attempts`` counts the first try."""

    attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    # A longer Retry-After is not waited out: the error says how long to wait instead.
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or min(self.backoff_base, self.backoff_max, self.max_retry_after) < 0:
            raise ValueError("attempts must be at least 1 and the delays non-negative")

    def backoff(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1-based): exponential, half of it jittered."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``
    (Unix time the window resets, which Intercom sends); None if neither is usable."""
    value = headers.get("retry-after", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            pass
    reset = headers.get("x-ratelimit-reset", "").strip()
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    return None
