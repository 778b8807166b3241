"""The fleet arithmetic of bench/fleet.py and the figures the docs quote (issue 21, item 1).

AWS publishes two readings of its serving quotas (What's New 2025-03: GetSecretValue 10,000/s and
DescribeSecret 40,000/s; copies of the quotas page: 10,000/s for both combined): both are computed,
the combined one is the headline. The refresh period is the cache's mean (0.76 x ttl with the
jitter), and the rotation of every secret at once is a row of its own. No servers: the measured
calls are given, as bench/fleet.py measures them on moto (tests/test_bench.py runs it).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import fleet  # noqa: E402


def defaults(used: int = 6) -> list[fleet.Measured]:
    """What bench/fleet.py measures for describe-then-get: one Get per secret cold, one Describe
    per used secret per pass."""
    return [
        fleet.Measured(
            "aws",
            "describe-then-get",
            used,
            used,
            Counter({"GetSecretValue": used}),
            Counter({"DescribeSecret": used}),
        )
    ]


def test_the_refresh_period_is_the_mean_with_jitter() -> None:
    from ivsecrets.config.model import CacheSettings

    s = CacheSettings()
    assert pytest.approx(s.refresh_ahead * (1 - s.jitter / 2)) == fleet.PERIOD_FACTOR
    assert pytest.approx(0.76) == fleet.PERIOD_FACTOR
    assert pytest.approx(228.0) == fleet.PERIOD


def test_both_readings_and_the_combined_headline() -> None:
    h = fleet.headline(defaults())
    # combined: half of 10,000/s over 6/228 Describe + 6/600 Get per process and second
    assert h["combined"] == pytest.approx(5_000 / (6 / 228 + 6 / 600))
    assert 137_000 < h["combined"] < 139_000  # "about 138,000" (issue 21)
    assert h["separate"] == pytest.approx(500_000)  # Get during a restart: 5,000 / (6 / 600)
    # every secret rotated at once: 6 Describe + 6 Get in one period
    assert h["spike combined"] == pytest.approx(5_000 / (12 / 228))
    assert h["spike separate"] == pytest.approx(5_000 / (6 / 228))


def test_the_table_has_both_readings_and_the_spike_row() -> None:
    lines = fleet.table(defaults())
    assert any("DescribeSecret" in line and "40,000" in line for line in lines)
    assert any("Describe+Get" in line and "10,000" in line for line in lines)
    spike = [line for line in lines if "spike" in line]
    assert any("GetSecretValue" in line for line in spike)
    assert any("Describe+Get" in line and "95,000" in line for line in spike)


def test_the_share_of_the_quota_per_reading() -> None:
    text = "\n".join(fleet.summary(defaults()))
    # 100,000 processes x 6 / 228 s = 2,631 DescribeSecret/s
    assert "2,631 DescribeSecret/s" in text
    assert "6.6 % of 40,000/s separate" in text
    assert "26.3 % of the combined 10,000/s" in text
    assert "137,681 processes" in text


@pytest.mark.parametrize("doc", ["README.md", "docs/stores/aws.md"])
def test_the_docs_quote_the_combined_headline(doc: str) -> None:
    # Outside code blocks: README's copy of the bench's output is refreshed by a full run.
    text = "".join((REPO / doc).read_text().split("```")[::2])
    assert "500,000 processes" not in text
    assert "12.5 %" not in text
    assert "137,681" in text or "138,000" in text
    assert "240 s" not in text  # the period is 228 s on average (0.76 x ttl)


def test_the_readme_quotes_the_current_bench_output() -> None:
    text = (REPO / "README.md").read_text()
    assert "a refresh pass every 228 s on average" in text
    assert "the headline): 137,681 processes" in text
    assert "describe-then-get: spike" in text
    assert "every 240 s" not in text
