"""Walking files, directories and archives (zip-based: APK, AAB, IPA, JAR, wheel; tar; gzip).

Archives are recognised by their first bytes, not their names, and opened recursively within
:class:`Limits`: how deep archives may nest, how large one file may be (declared or actual), how
many bytes a scan reads in all, how many members one archive may have. Whatever a limit stops is
reported as :class:`~ivsecrets.scan.report.Skipped`, never silently dropped and never followed.
"""

from __future__ import annotations

import gzip
import io
import multiprocessing
import os
import stat
import tarfile
import threading
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import IO

from ivsecrets.scan.engine import INTERCOM_SECRET_LENGTH, Matcher
from ivsecrets.scan.known import KnownSecrets
from ivsecrets.scan.report import Finding, ScanReport, Skipped
from ivsecrets.scan.views import Hit, line_column

__all__ = ["Limits", "Scanner", "scan"]

MiB = 1024 * 1024
#: With ``jobs`` > 1, worker processes start once this much has been read: a pre-commit hook on a
#: few files stays in one process, and starting the workers costs less than searching this much.
PARALLEL_AFTER = 4 * MiB
#: Buffers go to a worker in batches of about this many bytes (or BATCH_FILES files): one task
#: per small file would cost more in inter-process overhead than searching the file does.
BATCH_BYTES = 4 * MiB
BATCH_FILES = 256
#: Directories a walk never enters: version-control internals (compressed objects, not files).
SKIP_DIRECTORIES = frozenset({".git", ".hg", ".svn"})
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
    tarfile.TarError,
    gzip.BadGzipFile,
)


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a scan finite on hostile input (archive bombs, huge files)."""

    #: Archives inside archives: a file on disk is level 1; level ``max_depth + 1`` is not opened.
    max_depth: int = 4
    #: Bytes of one file or archive member, declared or actual; larger ones are skipped.
    max_file_bytes: int = 100 * MiB
    #: Bytes read in all (files plus decompressed members); once spent, the rest is skipped.
    max_total_bytes: int = 4 * 1024 * MiB
    #: Members of one archive; the rest of a larger archive is skipped.
    max_members: int = 100_000


def _archive_kind(head: bytes) -> str | None:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def _gzipped_tar(handle: IO[bytes]) -> bool:
    """Whether a gzip stream holds a tar archive (a .tar.gz); ``handle`` is rewound."""
    try:
        with gzip.GzipFile(fileobj=handle) as stream:
            head = stream.read(512)
    except _READ_ERRORS:
        return False
    finally:
        handle.seek(0)
    return _archive_kind(head) == "tar"


class Scanner:
    """Scans paths for known secrets and suspects. One scanner, one report; not thread-safe."""

    def __init__(
        self,
        known: KnownSecrets,
        *,
        limits: Limits | None = None,
        heuristic: bool = True,
        window_lengths: Iterable[int] = (INTERCOM_SECRET_LENGTH,),
        jobs: int = 1,
    ) -> None:
        """``jobs``: processes that search (the default, 1, searches in this one)."""
        self.limits = limits or Limits()
        self.matcher = Matcher(known, heuristic=heuristic, window_lengths=window_lengths)
        self.report = ScanReport(known=len(known))
        self.jobs = max(1, jobs)
        self._pool: ProcessPoolExecutor | None = None
        self._pending: deque[tuple[Future[list[_Searched]], list[tuple[str, str | None]]]] = deque()
        self._batch: list[bytes] = []
        self._batch_names: list[tuple[str, str | None]] = []
        self._batch_bytes = 0
        self._worker_candidates = 0

    def scan(self, paths: Iterable[str | os.PathLike[str]]) -> ScanReport:
        """Walk ``paths`` (files or directories) and return the report.

        With ``jobs`` > 1 the searching is done by that many worker processes while this one
        walks, reads and decompresses; findings come out in the same order either way.
        """
        started = time.perf_counter()
        try:
            for path in paths:
                self._path(os.fspath(path))
            self._submit()
            while self._pending:
                self._collect()
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None
        self.report.candidates = self.matcher.candidates + self._worker_candidates
        self.report.seconds += time.perf_counter() - started
        return self.report

    # -- the file system ----------------------------------------------------------------------

    def _skip(self, path: str, reason: str) -> None:
        self.report.skipped.append(Skipped(path, reason))

    def _path(self, path: str) -> None:
        """A path the caller named: a file or directory is scanned even if its name is skipped."""
        try:
            mode = os.lstat(path).st_mode
        except OSError as err:
            self._skip(path, f"cannot read: {err.strerror}")
            return
        if stat.S_ISLNK(mode):
            self._skip(path, "symbolic link, not followed")
        elif stat.S_ISDIR(mode):
            self._directory(path)
        elif stat.S_ISREG(mode):
            self._file(path)
        else:
            self._skip(path, "not a regular file")

    def _directory(self, path: str) -> None:
        # The entries' types come with the listing (no stat per entry); names stay strings, as
        # pathlib objects cost more per file than searching a small file does.
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as err:
            self._skip(path, f"cannot list: {err.strerror}")
            return
        for entry in entries:
            try:  # a stat only where the file system did not give the type with the listing
                link = entry.is_symlink()
                directory = not link and entry.is_dir(follow_symlinks=False)
                regular = not link and entry.is_file(follow_symlinks=False)
            except OSError as err:
                self._skip(entry.path, f"cannot read: {err.strerror}")
                continue
            if link:
                self._skip(entry.path, "symbolic link, not followed")
            elif directory:
                if entry.name not in SKIP_DIRECTORIES:
                    self._directory(entry.path)
            elif regular:
                self._file(entry.path)
            else:
                self._skip(entry.path, "not a regular file")

    def _file(self, name: str) -> None:
        try:
            with open(name, "rb") as handle:
                head = handle.read(512)
                kind = _archive_kind(head)
                if kind is not None:
                    self.report.files += 1
                    handle.seek(0)
                    self._archive(kind, handle, name, 1)
                    return
                size = os.fstat(handle.fileno()).st_size
                if not self._within(name, size):
                    return
                handle.seek(0)  # one read of the whole file, no copy to join two
                # read(n) allocates n bytes up front: ask for the size, not the limit (a
                # 100 MB allocation per file cost more than reading the file), and read on
                # only if the file grew since fstat.
                data = handle.read(size + 1)
                if len(data) > size:
                    data += handle.read(self.limits.max_file_bytes + 1 - len(data))
        except OSError as err:
            self._skip(name, f"cannot read: {err.strerror}")
            return
        if len(data) > self.limits.max_file_bytes:
            self._skip(
                name, f"larger than the per-file limit of {self.limits.max_file_bytes} bytes"
            )
            return
        self.report.files += 1
        self._search(data, name, None)

    def _within(self, name: str, size: int) -> bool:
        """True when a file of ``size`` bytes may be read; else records why not."""
        if size > self.limits.max_file_bytes:
            self._skip(
                name,
                f"{size} bytes (declared) exceed the per-file limit of "
                f"{self.limits.max_file_bytes} bytes",
            )
            return False
        if self.report.bytes + size > self.limits.max_total_bytes:
            self._skip(
                name, f"the total limit of {self.limits.max_total_bytes} bytes read is spent"
            )
            return False
        return True

    # -- content and archives -----------------------------------------------------------------

    def _content(self, data: bytes, file: str, member: str | None, depth: int) -> None:
        """A file's or member's bytes: an archive to open, or content to search."""
        kind = _archive_kind(data[:512])
        if kind is None:
            self._search(data, file, member)
            return
        shown = f"{file}!/{member}" if member else file
        if depth + 1 > self.limits.max_depth:
            self._skip(
                shown,
                f"archive nested more than {self.limits.max_depth} levels deep, not opened",
            )
            return
        self._archive(kind, io.BytesIO(data), file, depth + 1, member)

    def _archive(
        self, kind: str, handle: IO[bytes], file: str, depth: int, member: str | None = None
    ) -> None:
        shown = f"{file}!/{member}" if member else file
        try:
            if kind == "zip":
                self._zip(handle, file, depth, member)
            elif kind == "tar" or (kind == "gzip" and _gzipped_tar(handle)):
                self._tar(handle, file, depth, member)
            else:
                self._gzip(handle, file, depth, member)
        except _READ_ERRORS as err:
            self._skip(shown, f"unreadable {kind} archive ({type(err).__name__})")

    def _read_member(
        self, handle: IO[bytes] | gzip.GzipFile, file: str, inner: str, depth: int
    ) -> None:
        limit = self.limits.max_file_bytes
        data = handle.read(limit + 1)
        if len(data) > limit:
            self._skip(
                f"{file}!/{inner}",
                f"decompresses to more than the per-file limit of {limit} bytes",
            )
            return
        self._content(data, file, inner, depth)

    def _zip(self, handle: IO[bytes], file: str, depth: int, member: str | None) -> None:
        prefix = f"{member}!/" if member else ""
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
            if len(infos) > self.limits.max_members:
                self._skip(
                    f"{file}!/{prefix}",
                    f"{len(infos)} members, more than {self.limits.max_members}; "
                    "the rest not scanned",
                )
            for info in infos[: self.limits.max_members]:
                shown = f"{file}!/{prefix}{info.filename}"
                if info.is_dir():
                    continue
                if info.flag_bits & 1:
                    self._skip(shown, "encrypted member")
                    continue
                # ZipExtFile never returns more than the declared size, so this bounds the read.
                if not self._within(shown, info.file_size):
                    continue
                try:
                    with archive.open(info) as stream:
                        self._read_member(stream, file, prefix + info.filename, depth)
                except _READ_ERRORS as err:
                    self._skip(shown, f"unreadable ({type(err).__name__})")

    def _tar(self, handle: IO[bytes], file: str, depth: int, member: str | None) -> None:
        prefix = f"{member}!/" if member else ""
        passed = 0
        # Streaming mode: members are read in order, and a compressed tar is decompressed once.
        # Getting past a member means decompressing it, so what is passed counts too.
        with tarfile.open(fileobj=handle, mode="r|*") as archive:
            for count, info in enumerate(archive):
                shown = f"{file}!/{prefix}{info.name}"
                if count >= self.limits.max_members:
                    self._skip(
                        f"{file}!/{prefix}",
                        f"more than {self.limits.max_members} members; the rest not scanned",
                    )
                    return
                if not info.isfile():
                    continue
                passed += info.size
                if passed > self.limits.max_total_bytes:
                    self._skip(
                        shown,
                        "the tar stream passes the total limit of "
                        f"{self.limits.max_total_bytes} bytes here; the rest not scanned",
                    )
                    return
                if not self._within(shown, info.size):
                    continue
                stream = archive.extractfile(info)
                if stream is not None:
                    with stream:
                        self._read_member(stream, file, prefix + info.name, depth)

    def _gzip(self, handle: IO[bytes], file: str, depth: int, member: str | None) -> None:
        outer = member or file
        inner = os.path.basename(outer.rsplit("!/", 1)[-1])
        inner = inner[:-3] if inner.endswith(".gz") else inner + ".gunzipped"
        with gzip.GzipFile(fileobj=handle) as stream:
            self._read_member(stream, file, (member + "!/" if member else "") + inner, depth)

    # -- searching ----------------------------------------------------------------------------

    def _search(self, data: bytes, file: str, member: str | None) -> None:
        self.report.bytes += len(data)
        if self._pool is None and self.jobs > 1 and self.report.bytes > PARALLEL_AFTER:
            self._pool = _pool(self.jobs, self.matcher)
        if self._pool is None:
            self._record(_searched(self.matcher, data), file, member)
            return
        self._batch.append(data)
        self._batch_names.append((file, member))
        self._batch_bytes += len(data)
        if self._batch_bytes >= BATCH_BYTES or len(self._batch) >= BATCH_FILES:
            self._submit()

    def _submit(self) -> None:
        """Send the batch to a worker; a bounded number of batches in flight bounds memory."""
        if self._pool is None or not self._batch:
            return
        while len(self._pending) >= 2 * self.jobs:
            self._collect()
        future = self._pool.submit(_search_in_worker, self._batch)
        self._pending.append((future, self._batch_names))
        self._batch, self._batch_names, self._batch_bytes = [], [], 0

    def _collect(self) -> None:
        future, names = self._pending.popleft()
        for searched, (file, member) in zip(future.result(), names, strict=True):
            self._worker_candidates += searched.candidates
            self._record(searched, file, member)

    def _record(self, searched: _Searched, file: str, member: str | None) -> None:
        for hit, line, column in searched.hits:
            for known in hit.known or (None,):
                finding = Finding(
                    file=file,
                    member=member,
                    offset=hit.offset,
                    encoding=hit.encoding,
                    fingerprint=hit.fingerprint,
                    known=known,
                    line=line,
                    column=column,
                    reason=hit.reason,
                )
                (self.report.findings if known else self.report.suspects).append(finding)


@dataclass(frozen=True)
class _Searched:
    hits: list[tuple[Hit, int | None, int | None]]
    candidates: int = 0


def _searched(matcher: Matcher, data: bytes) -> _Searched:
    """The hits in one buffer, with line and column where the content is text."""
    hits = matcher.search(data)
    text = b"\x00" not in data[:8192]
    located = []
    for hit in hits:
        line = column = None
        if text or hit.width == 2:
            line, column = line_column(data, hit.offset, hit.width)
        located.append((hit, line, column))
    return _Searched(located)


_worker_matcher: Matcher | None = None


def _start_worker(matcher: Matcher) -> None:
    global _worker_matcher
    _worker_matcher = matcher


def _search_in_worker(batch: list[bytes]) -> list[_Searched]:
    matcher = _worker_matcher
    assert matcher is not None
    results = []
    for data in batch:
        before = matcher.candidates
        searched = _searched(matcher, data)
        results.append(_Searched(searched.hits, matcher.candidates - before))
    return results


def _start_method() -> str:
    """fork where there is one and this process runs one thread: a worker starts in
    milliseconds with the matcher already built. A process with other threads (a store client's
    gRPC or connection threads, after ``--from-store``) is not forked, as a lock another thread
    holds would stay locked in the child for good: workers are spawned and get the matcher
    pickled, as on platforms without fork."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _pool(jobs: int, matcher: Matcher) -> ProcessPoolExecutor:
    method = _start_method()
    return ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_start_worker,
        initargs=(matcher,),
    )


def scan(
    paths: Iterable[str | os.PathLike[str]],
    known: KnownSecrets,
    *,
    limits: Limits | None = None,
    heuristic: bool = True,
    window_lengths: Iterable[int] = (INTERCOM_SECRET_LENGTH,),
    jobs: int = 1,
) -> ScanReport:
    """Scan files, directories and archives for known secrets (by fingerprint) and suspects.

    Never raises for unreadable input: what could not be read is in ``report.skipped``.
    """
    scanner = Scanner(
        known, limits=limits, heuristic=heuristic, window_lengths=window_lengths, jobs=jobs
    )
    return scanner.scan(paths)
