"""The passes over every byte of a scan: the runs of secret characters, the tokens of each
alphabet in them, and the test for UTF-16 text, in C where ``_runs.c`` was compiled and in Python
otherwise (same results). :mod:`.engine` searches what these find."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "RUN_FINDER"]

MIN_LENGTH = 16
MAX_LENGTH = 512

_MARK = ord("a")
_NEEDLE = b"a" * MIN_LENGTH


def _table(members: bytes, mark: int = _MARK) -> bytes:
    table = bytearray(b" " * 256)
    for byte in members:
        table[byte] = mark
    return bytes(table)


_ALNUM = (string.ascii_letters + string.digits).encode()
_URL_CHARS = _ALNUM + b"_-"
_STD_CHARS = _ALNUM + b"+/"
_URL = _table(_URL_CHARS)
_STD = _table(_STD_CHARS)
_URL_SPLIT = bytes(c if c in _URL_CHARS else 0x20 for c in range(256))
_STD_SPLIT = bytes(c if c in _STD_CHARS else 0x20 for c in range(256))
_STD_PADDED_SPLIT = bytes(c if c in _STD_CHARS + b"=" else 0x20 for c in range(256))
# Printable secret characters: what a generated secret may contain, not the brackets,
# separators and quotes that surround values in code (so `f(a,b)` is not one long token), nor
# '.' and ':', which join names, hosts and URLs far more often than they appear in a secret.
_PRINTABLE = _table(bytes(c for c in range(0x21, 0x7F) if c not in b"\"'`\\<>()[]{};,.:"))
_DIGITS = string.digits.encode()
_has_digit = re.compile(b"[0-9]").search
# UTF-16 text in the ASCII range: a printable (or tab, newline, space) byte beside a NUL byte.
_U16 = bytearray(_table(bytes(range(0x20, 0x7F)) + b"\t\n\r"))
_U16[0] = ord("z")
_UTF16 = bytes(_U16)
_UTF16_NEEDLE = b"az" * MIN_LENGTH


def _spans(marks: bytes | bytearray) -> list[tuple[int, int]]:
    """(start, end) of every maximal run of at least MIN_LENGTH marks, in order."""
    find = marks.find
    spans = []
    position = find(_NEEDLE)
    while position >= 0:
        end = find(b" ", position + MIN_LENGTH)
        if end < 0:
            end = len(marks)
        spans.append((position, end))
        position = find(_NEEDLE, end)
    return spans


def _python_runs(data: bytes, shortest: int) -> set[bytes]:
    """The distinct maximal runs of at least MIN_LENGTH printable secret characters in ``data``
    that are ``shortest`` long or longer or have a digit (others cannot be fingerprinted, nor
    hold a piece that can: see ``Matcher._candidates``).

    ``_spans`` without the list of positions: one loop step per run, and a run left out is never
    copied. The C run finder (``_runs.c``) is the same function in one pass over the bytes; this
    one serves where it was not compiled.
    """
    marks = data.translate(_PRINTABLE)
    find = marks.find
    digit = _has_digit
    runs: set[bytes] = set()
    add = runs.add
    size = len(marks)
    position = find(_NEEDLE)
    while position >= 0:
        end = find(b" ", position + MIN_LENGTH)
        if end < 0:
            end = size
        if end - position >= shortest or digit(data, position, end):
            add(data[position:end])
        position = find(_NEEDLE, end)
    return runs


# The C run finder's alphabet: 1 for a printable secret character, 2 for a digit, 0 otherwise.
_CLASSES = bytes((2 if c in _DIGITS else 1) if _PRINTABLE[c] == _MARK else 0 for c in range(256))
# ... and UTF-16 text: 1 for a character that may be one (printable, tab, newline), 0 otherwise.
_TEXT16 = bytes(1 if _UTF16[c] == _MARK else 0 for c in range(256))
_c_runs: Callable[[bytes, bytes, int, int], list[bytes]] | None
_c_has_utf16: Callable[[bytes, bytes, int], bool] | None
try:
    from ivsecrets.scan._runs import has_utf16 as _c_has_utf16
    from ivsecrets.scan._runs import runs as _c_runs
except ImportError:  # built without a C compiler: the same functions, in Python
    _c_runs = _c_has_utf16 = None
#: Which passes over the bytes this process uses: "c", or "python" where the extension
#: (``_runs.c``) was not compiled. The results are the same; the speed is not (docs/scan.md).
RUN_FINDER = "python" if _c_runs is None else "c"


def _runs(data: bytes, shortest: int) -> set[bytes]:
    """The distinct maximal runs of at least MIN_LENGTH printable secret characters in ``data``
    that are ``shortest`` long or longer or have a digit: the hottest step of a scan."""
    if _c_runs is None:
        return _python_runs(data, shortest)
    return set(_c_runs(data, _CLASSES, MIN_LENGTH, shortest))


def _python_has_utf16(data: bytes) -> bool:
    """MIN_LENGTH characters of UTF-16 text in the ASCII range: (character, NUL) in a row."""
    return data.translate(_UTF16).find(_UTF16_NEEDLE) >= 0


def _has_utf16(data: bytes) -> bool:
    if _c_has_utf16 is None:
        return _python_has_utf16(data)
    return _c_has_utf16(data, _TEXT16, MIN_LENGTH)


def _masked(marks: bytes, blobs: Sequence[tuple[int, int]]) -> bytes | bytearray:
    if not blobs:
        return marks
    masked = bytearray(marks)
    for start, end in blobs:
        masked[start:end] = b" " * (end - start)
    return masked


def _blobs(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(start, end) for start, end in spans if end - start > MAX_LENGTH]


def _tokens(
    data: bytes, shortest: int = MIN_LENGTH
) -> tuple[set[bytes], set[bytes], set[bytes], set[bytes], list[bytes]]:
    """The distinct runs of printable secret characters, of base64url, of base64 in ``data``.

    And, fourth, base64 runs with their '=' padding; fifth, the runs longer than MAX_LENGTH.
    Every base64 or base64url run lies inside a printable run, so one pass over the data finds
    the printable runs, and the alphabets are split out of the distinct ones, joined, in C
    (translate, then split on spaces): no Python work per piece but a length test.

    Printable runs without a digit shorter than ``shortest`` (the shortest length at which a
    string without a digit is fingerprinted) are left out: no piece of them can be.
    """
    printable = _runs(data, shortest)
    if not printable:
        return printable, set(), set(), set(), []
    small = [token for token in printable if len(token) <= MAX_LENGTH]
    joined = b" ".join(small)
    url = {p for p in joined.translate(_URL_SPLIT).split() if len(p) >= MIN_LENGTH}
    std = {p for p in joined.translate(_STD_SPLIT).split() if len(p) >= MIN_LENGTH}
    padded: set[bytes] = set()
    if b"=" in joined:
        pieces = joined.translate(_STD_PADDED_SPLIT).split()
        for piece in [p for p in pieces if p.endswith(b"=") and len(p) > MIN_LENGTH]:
            # base64 padding belongs to the value; an '=' inside separates a name from a value
            body = piece.rstrip(b"=")
            value = body.rsplit(b"=", 1)[-1]
            if len(value) >= MIN_LENGTH and len(piece) - len(body) <= 2:
                padded.add(value + piece[len(body) :])
    blobs = [token for token in printable if len(token) > MAX_LENGTH]
    for token in blobs[:]:
        # A run longer than MAX_LENGTH is encoded data (an inline image, a key, a blob): it is
        # decoded, and the shorter runs of the other alphabet inside it (base64url pieces
        # between the '+' and '/' of base64) are not candidates: random, and numerous.
        # Its base64 padding ('=' or '==' at the end) is set aside first: a padded blob is one
        # run of its alphabet, not a mixed token to take apart run by run.
        core = token.rstrip(b"=")
        if len(token) - len(core) > 2:
            core = token
        if not core.translate(None, _URL_CHARS):
            url.add(core)
            blobs.append(core)
        elif not core.translate(None, _STD_CHARS):
            std.add(core)
            blobs.append(core)
        else:
            url_marks = token.translate(_URL)
            url_spans = _spans(url_marks)
            std_spans = _spans(_masked(token.translate(_STD), _blobs(url_spans)))
            std_blobs = _blobs(std_spans)
            if std_blobs:
                url_spans = _spans(_masked(url_marks, std_blobs))
            url.update(token[a:b] for a, b in url_spans)
            std.update(token[a:b] for a, b in std_spans)
            blobs.extend(token[a:b] for a, b in (*url_spans, *std_spans) if b - a > MAX_LENGTH)
    return set(small), url, std, padded, blobs
