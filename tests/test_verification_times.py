"""verify's due date for `rotate --finish` counts from the promotion the store recorded."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ivsecrets.environments import Stage
from ivsecrets.secret import VersionInfo
from ivsecrets.verification import promoted_at

CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_the_recorded_promotion_wins_over_the_creation_time() -> None:
    # A version rolled back to (or promoted by a resumed run) became current long after it was
    # made: the grace period runs from then, not from its creation.
    promoted = CREATED + timedelta(days=30)
    info = VersionInfo("v1", (Stage.current,), created_at=CREATED, current_since=promoted)
    assert promoted_at(info) == promoted


def test_without_a_record_the_creation_time_is_used() -> None:
    info = VersionInfo("v1", (Stage.current,), created_at=CREATED.replace(tzinfo=None))
    assert promoted_at(info) == CREATED
    assert promoted_at(VersionInfo("v1", (Stage.current,))) is None
    assert promoted_at(None) is None
