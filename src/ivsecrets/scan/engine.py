"""Candidates in bytes, fingerprinted: the part of a scan that must be fast.

Every run of a secret alphabet (base64url, base64, and printable non-quote characters; hex is a
subset of both) that is 16 to 512 characters long and has a digit, or has Intercom's length (43)
or a window length, is a candidate, in plain bytes, in UTF-16 text (both byte orders) and inside
base64- and hex-encoded tokens (decoded, then searched the same way, a few levels deep). Inside
tokens with a digit longer than a secret, every window of the window lengths (43 by default) is a
candidate too, so a secret glued to other alphabet characters is still found.

Why it is fast enough for a pre-commit hook and a 100 MB mobile build (docs/scan.md, "Speed"):

- the two passes over every byte are in C (``_runs.c``, compiled by ``pip install`` where there
  is a C compiler): finding the runs, skipping ahead past words too short to be one (a run
  needs sixteen characters in a row, so the sixteenth byte ahead is tested first), and testing
  for UTF-16 text by walking from NUL byte to NUL byte. Without a compiler the same functions
  run in Python (``_python_runs``, ``_python_has_utf16``: ``bytes.translate`` to two letters,
  then ``bytes.find``), with the same results and a loop step per run, about 1.6x slower;
- the digit rule: identifiers, type descriptors and words, most of the runs of a build, have no
  digit; a random secret almost always has one (and one of Intercom's length is kept without);
- UTF-16 text is read as two views (characters at even and at odd offsets) built with slices,
  ``translate`` and big-integer OR/AND, not string by string;
- candidates are deduplicated per buffer with a set, and fingerprints already computed are
  remembered across files (misses in a bounded set), so each distinct token costs one HMAC once;
- the HMAC is the one-shot C ``hmac.digest``; positions, lines and columns are only computed for
  the rare hits.
"""

from __future__ import annotations

import binascii
import re
import string
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress

from ivsecrets.scan.known import KnownSecret, KnownSecrets, fingerprint_digests
from ivsecrets.secret import fingerprint

__all__ = ["INTERCOM_SECRET_LENGTH", "MAX_LENGTH", "MIN_LENGTH", "Hit", "Matcher", "line_column"]

MIN_LENGTH = 16
MAX_LENGTH = 512
#: Intercom's identity-verification secrets: 256 bits as unpadded base64url.
INTERCOM_SECRET_LENGTH = 43
#: Words that make a 43-character base64url string look like an Intercom secret.
KEYWORDS = (
    b"intercom",
    b"user_hash",
    b"userhash",
    b"user-hash",
    b"jwt",
    b"identity_verification",
    b"identity-verification",
    b"identityverification",
)
CONTEXT_BYTES = 120  # "near": this many bytes either side of the token
MAX_OFFSETS = 100  # occurrences reported per candidate and buffer

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
_not_hex = re.compile(b"[^0-9a-fA-F]").search  # stops at the first one: blobs are long
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
# UTF-16 text in the ASCII range: a printable (or tab, newline, space) byte beside a NUL byte.
_U16 = bytearray(_table(bytes(range(0x20, 0x7F)) + b"\t\n\r"))
_U16[0] = ord("z")
_UTF16 = bytes(_U16)
_UTF16_NEEDLE = b"az" * MIN_LENGTH
_UTF16_PAIRS = re.compile(b"(?:[\x20-\x7e\t\n\r]\x00)*")
_UTF16_TEXT = frozenset(b"\t\n\r" + bytes(range(0x20, 0x7F)))
# A character's partner byte: NUL leaves the character as it is; any other byte sets its high bit,
# which takes it out of every alphabet (they are all ASCII).
_PARTNER = bytes([0x00] + [0x80] * 255)
# 32 bytes in 43 base64url characters leave the last character's two low bits zero.
_CANONICAL_LAST = frozenset(b"AEIMQUYcgkosw048")


@dataclass(frozen=True)
class Hit:
    """A known secret (``known`` not empty) or a suspect at one byte offset of the buffer."""

    offset: int
    encoding: str
    fingerprint: str
    known: tuple[KnownSecret, ...] = ()
    reason: str = ""

    @property
    def width(self) -> int:
        """Bytes per character at the offset: 2 for secrets found as UTF-16 text."""
        return 2 if self.encoding.startswith("utf-16") else 1


@dataclass
class _Chunk:
    decoded: bytes
    source: bytes  # the encoded bytes in the parent view
    parent_offset: int | None  # where source starts in the parent, when known


@dataclass
class _View:
    """Bytes to search, and how offsets in them lead back to offsets in the scanned buffer."""

    data: bytes
    encoding: str
    parent: _View | None = None
    chunks: Sequence[_Chunk] = ()
    starts: list[int] = field(default_factory=list)
    width: int = 1
    shift: int = 0

    @classmethod
    def derived(
        cls, parent: _View, encoding: str, chunks: Sequence[_Chunk], width: int = 1
    ) -> _View:
        starts, position = [], 0
        for chunk in chunks:
            starts.append(position)
            position += len(chunk.decoded) + 1
        name = encoding if parent.parent is None else f"{parent.encoding}>{encoding}"
        data = b"\n".join(chunk.decoded for chunk in chunks)
        return cls(data, name, parent, chunks, starts, width)

    @classmethod
    def utf16(cls, parent: _View, shift: int, data: bytes) -> _View:
        """The characters at ``shift``, ``shift + 2``... of ``parent``: byte ``i`` here is ``i * 2
        + shift`` there, so no chunks are needed to map offsets back."""
        name = "utf-16" if parent.parent is None else f"{parent.encoding}>utf-16"
        return cls(data, name, parent, width=2, shift=shift)

    def name_at(self, local: int) -> str:
        """The encoding to report for a hit at ``local``: a UTF-16 view says which byte order.

        The order shows only at the end of the text (little-endian text ends with a NUL,
        big-endian text starts with one), so text that ends on a character is named big-endian;
        the characters are the same either way.
        """
        if not self.encoding.endswith("utf-16") or self.parent is None:
            return self.encoding
        data = self.parent.data
        pairs = _UTF16_PAIRS.match(data, self.shift + local * self.width)
        end = pairs.end() if pairs else len(data)
        order = "be" if end < len(data) and data[end] in _UTF16_TEXT else "le"
        return f"{self.encoding}{order}"

    def root_offsets(self, local: int) -> list[int]:
        """Offsets in the scanned buffer that ``local`` (an offset in this view) comes from."""
        if self.parent is None:
            return [local]
        if not self.chunks:  # UTF-16: character by character
            return self.parent.root_offsets(self.shift + local * self.width)
        index = bisect_right(self.starts, local) - 1
        chunk = self.chunks[index]
        inner = local - self.starts[index]
        if chunk.parent_offset is not None:  # UTF-16: character by character
            return self.parent.root_offsets(chunk.parent_offset + inner * self.width)
        # Decoded base64 or hex: the place of the encoded token, wherever it occurs.
        found: list[int] = []
        for position in _find_all(self.parent.data, chunk.source):
            found.extend(self.parent.root_offsets(position))
            if len(found) >= MAX_OFFSETS:
                break
        return found


def _find_all(data: bytes, needle: bytes, limit: int = MAX_OFFSETS) -> list[int]:
    found: list[int] = []
    position = data.find(needle)
    while position >= 0 and len(found) < limit:
        found.append(position)
        position = data.find(needle, position + 1)
    return found


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


def line_column(data: bytes, offset: int, width: int = 1) -> tuple[int, int]:
    """1-based line and column of ``offset``; ``width`` 2 counts UTF-16 characters.

    >>> line_column(b"ab\\ncd", 4)
    (2, 2)
    """
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    if width == 2 and start and data[start : start + 1] == b"\x00":
        start += 1  # UTF-16LE: the newline's second byte belongs to the previous line
    return line, (offset - start) // width + 1


class Matcher:
    """Finds known secrets (by fingerprint) and suspects in buffers. Not thread-safe.

    ``window_lengths``: secret lengths to try at every position of longer tokens (a pin does not
    tell a secret's length; 43 is Intercom's). ``decode_depth``: how many encodings deep to look
    (UTF-16 inside base64 inside hex is three). ``remember``: how many non-matching candidates to
    remember across buffers.
    """

    def __init__(
        self,
        known: KnownSecrets,
        *,
        heuristic: bool = True,
        window_lengths: Iterable[int] = (INTERCOM_SECRET_LENGTH,),
        decode_depth: int = 3,
        remember: int = 500_000,
    ) -> None:
        self.known = known
        self.heuristic = heuristic
        self.window_lengths = tuple(
            sorted({n for n in window_lengths if MIN_LENGTH <= n <= MAX_LENGTH})
        )
        self.decode_depth = decode_depth
        # A candidate without a digit is fingerprinted only if it has one of these lengths.
        self._lengths = frozenset((INTERCOM_SECRET_LENGTH, *self.window_lengths))
        self._shortest = min(self._lengths)
        self.remember = remember
        self.candidates = 0  # fingerprints computed so far
        self._misses: set[bytes] = set()
        self._hits: dict[bytes, tuple[str, tuple[KnownSecret, ...]]] = {}

    def search(self, data: bytes) -> list[Hit]:
        """Known secrets and suspects in ``data``, in offset order, one per place and secret."""
        hits: list[Hit] = []
        self._search(_View(data, "plain"), 0, hits)
        unique: dict[tuple[int, str], Hit] = {}
        for hit in hits:
            unique.setdefault((hit.offset, hit.fingerprint), hit)
        return sorted(unique.values(), key=lambda h: (h.offset, h.fingerprint))

    def _search(self, view: _View, depth: int, hits: list[Hit]) -> None:
        data = view.data
        printable, url, std, padded, blobs = _tokens(data, self._shortest)
        if printable:
            self._candidates(view, depth, printable, url, std, padded, blobs, hits)
        # else nothing to fingerprint or decode (most small files): only UTF-16 text is left
        if depth < self.decode_depth and b"\x00" in data and not view.encoding.endswith("utf-16"):
            for child in self._utf16(view):
                self._search(child, depth + 1, hits)

    def _candidates(
        self,
        view: _View,
        depth: int,
        printable: set[bytes],
        url: set[bytes],
        std: set[bytes],
        padded: set[bytes],
        blobs: list[bytes],
        hits: list[Hit],
    ) -> None:
        alphabet = url | std
        # Only strings with a digit, or of Intercom's length or a window length, are
        # fingerprinted: the identifiers, paths and words that make up most of a build have
        # neither, and a random secret of another length almost always has a digit (docs/scan.md,
        # "Which strings are fingerprinted"). This cut the fingerprints on the bench tree 7-fold.
        numbered = set(filter(_has_digit, alphabet))  # decoded too: blobs included
        candidates = set(filter(_has_digit, printable | padded))
        candidates.update(numbered)
        kept_length = self._lengths.__contains__
        for tokens in (printable, alphabet, padded):  # selected in C: no Python per token
            candidates.update(compress(tokens, map(kept_length, map(len, tokens))))
        candidates.difference_update(blobs)
        for length in self.window_lengths:
            for token in numbered:
                size = len(token)
                # A window of a token without a digit, or of hex, would be a secret without a
                # digit or a hex one: for 43 random base64url characters, under 0.1 % of them.
                if length < size <= MAX_LENGTH and _not_hex(token):
                    candidates.update(token[i : i + length] for i in range(size - length + 1))
        self._match(view, candidates, hits)
        if self.heuristic:
            self._suspects(view, url, hits)
        if depth >= self.decode_depth:
            return
        for child in self._decoded(view, numbered):
            self._search(child, depth + 1, hits)

    def _match(self, view: _View, candidates: set[bytes], hits: list[Hit]) -> None:
        if self.known:
            new = list(candidates.difference(self._misses, self._hits))
            self.candidates += len(new)
            if len(self._misses) + len(new) > self.remember:
                self._misses.clear()
            digests = fingerprint_digests(new)
            if self.known.any_of(digests):
                for candidate, digest in zip(new, digests, strict=True):
                    entries = self.known.lookup(digest)
                    if entries:
                        self._hits[candidate] = ("ivfp1:" + digest.hex(), entries)
            self._misses.update(new)
            self._misses.difference_update(self._hits)
        if not self._hits:
            return
        for candidate in candidates.intersection(self._hits):
            printed, entries = self._hits[candidate]
            for local in _find_all(view.data, candidate):
                encoding = view.name_at(local)
                for offset in view.root_offsets(local):
                    hits.append(Hit(offset, encoding, printed, entries))

    def _suspects(self, view: _View, url: set[bytes], hits: list[Hit]) -> None:
        data = view.data
        for token in url:
            if (
                len(token) != INTERCOM_SECRET_LENGTH
                or token[-1] not in _CANONICAL_LAST
                or token in self._hits
                or token.lower() == token
                or token.upper() == token
                or token.translate(None, _DIGITS) == token
            ):
                continue
            for local in _find_all(data, token):
                before = data[max(0, local - CONTEXT_BYTES) : local]
                if before.endswith(b".") or before.lower().endswith((b"sha256=", b"sha256-")):
                    continue  # a JWT's signature, a file digest: 256-bit, but not a secret
                after = data[local + len(token) : local + len(token) + CONTEXT_BYTES]
                context = (before + b" " + after).lower()
                word = next((w for w in KEYWORDS if w in context), None)
                if word is None:
                    continue
                reason = f"43-character base64url string (256 bits) near '{word.decode()}'"
                encoding = view.name_at(local)
                for offset in view.root_offsets(local):
                    hits.append(Hit(offset, encoding, fingerprint(token), (), reason))

    def _decoded(self, view: _View, tokens: Iterable[bytes]) -> list[_View]:
        """Views of the tokens that decode as hex or base64 to something long enough to search.

        ``tokens``: the runs of the alphabets (no '=' in them) that have a digit. Encoded data
        of 16 bytes or more has a digit in all but a few in 10,000 cases; identifiers (the most
        common long tokens) have none, and are not decoded.
        """
        hex_chunks, base64_chunks = [], []
        for body in tokens:
            if len(body) < 22:
                continue
            if len(body) >= 2 * MIN_LENGTH and not _not_hex(body):
                if len(body) % 2 == 0:
                    hex_chunks.append(_Chunk(binascii.unhexlify(body), body, None))
                continue
            if len(body) % 4 == 1:
                continue
            try:
                std = body.translate(_URL_TO_STD) if b"-" in body or b"_" in body else body
                decoded = binascii.a2b_base64(std + b"=" * (-len(std) % 4))
            except binascii.Error:
                continue
            if len(decoded) >= MIN_LENGTH:
                base64_chunks.append(_Chunk(decoded, body, None))
        views = []
        if hex_chunks:
            views.append(_View.derived(view, "hex", hex_chunks))
        if base64_chunks:
            views.append(_View.derived(view, "base64", base64_chunks))
        return views

    def _utf16(self, view: _View) -> list[_View]:
        """Views of the UTF-16 text (ASCII range) in a buffer: the characters at even offsets,
        and those at odd offsets.

        A character of UTF-16 text in the ASCII range has a NUL byte beside it (after it in
        little-endian text, before it in big-endian text). Each view keeps the characters with a
        NUL on either side and hides the others (high bit set: in no alphabet), so runs never
        cross from text into binary. Built with slicing, ``translate`` and big-integer OR/AND,
        all in C: no Python work per string, which a resource table has by the ten thousand.
        No views for a buffer without sixteen such characters in a row (``_has_utf16``).
        """
        data = view.data
        if not _has_utf16(data):
            return []
        views = []
        for shift in (0, 1):
            chars = data[shift::2]
            size = len(chars)
            after = data[shift + 1 :: 2].ljust(size, b"\x01")
            before = data[0::2][:size] if shift else b"\x01" + data[1::2][: size - 1]
            hidden = _as_int(after.translate(_PARTNER)) & _as_int(before.translate(_PARTNER))
            text = (_as_int(chars) | hidden).to_bytes(size, "big")
            views.append(_View.utf16(view, shift, text))
        return views


def _as_int(data: bytes) -> int:
    return int.from_bytes(data, "big")
