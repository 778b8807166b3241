"""Archive bombs and oversized input are bounded and reported, never followed."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

from ivsecrets.scan import Limits, scan
from ivsecrets.testing import SECRET_A
from tests.scan.conftest import known_set, tar_bytes, zip_bytes

LEAK = f'key = "{SECRET_A}"\n'.encode()


def nested(levels: int) -> bytes:
    data = zip_bytes({"leak.txt": LEAK})
    for level in range(levels - 1):
        data = zip_bytes({f"level{level}.zip": data})
    return data


def test_nesting_within_the_limit_is_opened(tmp_path: Path) -> None:
    (tmp_path / "deep.zip").write_bytes(nested(4))
    report = scan([tmp_path], known_set(), limits=Limits(max_depth=4))
    assert [f.member for f in report.findings] == ["level2.zip!/level1.zip!/level0.zip!/leak.txt"]
    assert not report.skipped


def test_deeper_nesting_is_reported_not_followed(tmp_path: Path) -> None:
    (tmp_path / "bomb.zip").write_bytes(nested(50))
    report = scan([tmp_path], known_set(), limits=Limits(max_depth=4))
    assert not report.findings
    assert len(report.skipped) == 1
    skipped = report.skipped[0]
    assert skipped.path.count("!/") == 4
    assert "nested more than 4 levels" in skipped.reason


def _lying_zip(declared: int, actual: bytes) -> bytes:
    """A zip whose one member declares ``declared`` bytes uncompressed (a classic bomb header)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("payload.bin", actual)
    data = bytearray(buffer.getvalue())
    # Patch the uncompressed size in the local header (offset 22) and central directory (24).
    data[22:26] = struct.pack("<I", declared)
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", declared)
    return bytes(data)


def test_huge_declared_size_is_skipped_without_reading(tmp_path: Path) -> None:
    (tmp_path / "bomb.apk").write_bytes(_lying_zip(4_000_000_000, LEAK))
    report = scan([tmp_path], known_set(), limits=Limits(max_file_bytes=10_000_000))
    assert not report.findings
    [skipped] = report.skipped
    assert skipped.path.endswith("bomb.apk!/payload.bin")
    assert "4000000000 bytes (declared) exceed the per-file limit" in skipped.reason


def test_real_compression_bomb_is_bounded(tmp_path: Path) -> None:
    # 64 members of 1 MB of zeros, ~1 KB each compressed: the total limit stops the reading.
    zeros = zlib.compress(bytes(1_000_000))
    assert len(zeros) < 2_000
    members = {f"zeros{i}.bin": bytes(1_000_000) for i in range(64)}
    (tmp_path / "zeros.zip").write_bytes(zip_bytes(members))
    report = scan(
        [tmp_path], known_set(), limits=Limits(max_file_bytes=2_000_000, max_total_bytes=8_000_000)
    )
    assert report.bytes <= 8_000_000
    assert any("total limit" in s.reason for s in report.skipped)
    assert len(report.skipped) == 64 - 8


def test_large_plain_file_and_tar_member_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "big.log").write_bytes(b"x" * 5000 + LEAK)
    (tmp_path / "src.tar").write_bytes(tar_bytes({"big.txt": b"y" * 5000 + LEAK}, mode="w"))
    report = scan([tmp_path], known_set(), limits=Limits(max_file_bytes=4096))
    assert not report.findings
    reasons = {Path(s.path.split("!/")[0]).name: s.reason for s in report.skipped}
    assert "per-file limit" in reasons["big.log"] and "per-file limit" in reasons["src.tar"]


def test_member_count_is_bounded(tmp_path: Path) -> None:
    members = {f"f{i}.txt": b"" for i in range(50)}
    members["z-last.txt"] = LEAK
    (tmp_path / "many.zip").write_bytes(zip_bytes(members))
    report = scan([tmp_path], known_set(), limits=Limits(max_members=10))
    assert not report.findings
    assert any("more than 10" in s.reason for s in report.skipped)


def test_corrupt_archive_is_reported(tmp_path: Path) -> None:
    good = zip_bytes({"a.txt": LEAK})
    (tmp_path / "broken.jar").write_bytes(good[: len(good) // 2])
    report = scan([tmp_path], known_set())
    [skipped] = report.skipped
    assert "unreadable zip archive" in skipped.reason


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.txt").write_bytes(LEAK)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to(outside)
    report = scan([tree], known_set())
    assert not report.findings
    assert report.skipped[0].reason == "symbolic link, not followed"


def test_a_fifo_is_reported_not_read_and_named_paths_are_scanned_whatever_their_name(
    tmp_path: Path,
) -> None:
    # Entry types come from the directory listing: a FIFO is never opened (it would block).
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "leak.txt").write_bytes(LEAK)
    report = scan([tmp_path], known_set())
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("pipe", "not a regular file")
    ]
    assert [Path(f.file).name for f in report.findings] == ["leak.txt"]
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "ORIG_HEAD").write_bytes(LEAK)
    assert len(scan([tmp_path / ".git"], known_set()).findings) == 1  # named: scanned


def test_git_directory_is_not_entered(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "COMMIT_EDITMSG").write_bytes(LEAK)
    assert not scan([tmp_path], known_set()).findings
