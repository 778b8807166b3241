"""Where a scan found something: the views a buffer is searched in, and the hits they give.

A buffer is searched as it is (``plain``), as the UTF-16 text in it (two views: the characters at
even and at odd offsets) and as the hex and base64 tokens in it, decoded (a few levels deep). A
:class:`View` knows how an offset in it leads back to offsets in the scanned buffer, and which
encoding to report there; a :class:`Hit` is what the engine (``engine.Matcher``) reports.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from ivsecrets.scan.known import KnownSecret

__all__ = ["MAX_OFFSETS", "Chunk", "Hit", "View", "find_all", "line_column"]

MAX_OFFSETS = 100  # occurrences reported per candidate and buffer
# UTF-16 text in the ASCII range, as (character, NUL) pairs; and the characters it may hold.
_UTF16_PAIRS = re.compile(b"(?:[\x20-\x7e\t\n\r]\x00)*")
_UTF16_TEXT = frozenset(b"\t\n\r" + bytes(range(0x20, 0x7F)))


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
class Chunk:
    decoded: bytes
    source: bytes  # the encoded bytes in the parent view
    parent_offset: int | None  # where source starts in the parent, when known


@dataclass
class View:
    """Bytes to search, and how offsets in them lead back to offsets in the scanned buffer."""

    data: bytes
    encoding: str
    parent: View | None = None
    chunks: Sequence[Chunk] = ()
    starts: list[int] = field(default_factory=list)
    width: int = 1
    shift: int = 0

    @classmethod
    def derived(cls, parent: View, encoding: str, chunks: Sequence[Chunk], width: int = 1) -> View:
        starts, position = [], 0
        for chunk in chunks:
            starts.append(position)
            position += len(chunk.decoded) + 1
        name = encoding if parent.parent is None else f"{parent.encoding}>{encoding}"
        data = b"\n".join(chunk.decoded for chunk in chunks)
        return cls(data, name, parent, chunks, starts, width)

    @classmethod
    def utf16(cls, parent: View, shift: int, data: bytes) -> View:
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
        for position in find_all(self.parent.data, chunk.source):
            found.extend(self.parent.root_offsets(position))
            if len(found) >= MAX_OFFSETS:
                break
        return found


def find_all(data: bytes, needle: bytes, limit: int = MAX_OFFSETS) -> list[int]:
    found: list[int] = []
    position = data.find(needle)
    while position >= 0 and len(found) < limit:
        found.append(position)
        position = data.find(needle, position + 1)
    return found


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
