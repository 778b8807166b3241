"""Two real ``ivsecrets rotate`` processes started together, again and again, on each store:
exactly one wins each time, and the invariants hold (issue 11). ``IVSECRETS_SOAK=1`` runs 50
rounds per store (``make soak-rotation``), the default run a few.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivsecrets.testing import SECRET_A
from tests.test_rotation_safety import World, make_world

EXE = str(Path(sys.executable).parent / "ivsecrets")
SOAK = os.environ.get("IVSECRETS_SOAK", "") not in ("", "0")
ROUNDS = int(os.environ.get("IVSECRETS_SOAK_ROUNDS", "50")) if SOAK else 3


@pytest.fixture(params=["aws", "gcp", "vault"])
def world(
    request: pytest.FixtureRequest, intercom_api: object, monkeypatch: pytest.MonkeyPatch
) -> object:
    yield from make_world(request, request.param, intercom_api, monkeypatch)  # type: ignore[arg-type]


def start(config: Path, *args: str, stdin: str | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EXE, "--config", str(config), "rotate", "ios", "prod", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("source", ["intercom", "file"])
def test_two_processes_rotating_together_exactly_one_wins(
    world: World, source: str, tmp_path: Path
) -> None:
    config = tmp_path / "ivsecrets.toml"
    config.write_text(world.text)
    for round_ in range(ROUNDS):
        if source == "intercom":
            args: tuple[str, ...] = ("--from-intercom",)
        else:
            values = []
            for n in (1, 2):
                value = tmp_path / f"value-{round_}-{n}"
                value.write_text(f"{SECRET_A[:20]}-round{round_:03d}-process{n}-xxxxxxxx\n")
                values.append(value)
        procs = [
            start(config, *(args if source == "intercom" else ("--from-file", str(values[n]))))
            for n in range(2)
        ]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        codes = [p.returncode for p in procs]
        assert sorted(codes) == [0, 1], (round_, codes, outputs)
        loser = outputs[codes.index(1)]
        # The loser stops at the lease, at the grace check, or (seen once on Vault under heavy
        # load, not understood yet: see the closing note) when it finds its lease taken.
        stops = ("being rotated by another run", "in flight", "no longer holds the rotation lease")
        assert any(stop in loser for stop in stops), loser
        world.check()
        # The next round starts from a finished rotation.
        world.expire()
        world.rotator().finish("ios", "prod", grace=0)
        world.check()
