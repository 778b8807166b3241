"""An offline stand-in for `terraform fmt -check`, for the HCL this repository writes.

No terraform binary can be installed on the project's machines, so this module re-implements the
whitespace rules of hclwrite's formatter (which `terraform fmt` runs): indentation of two spaces
per bracket level opened on a line, one space or none between tokens on a line, and vertical
alignment of `=` across consecutive single-line attributes. It lexes enough of HCL's native
syntax for that (identifiers, numbers, operators, brackets, quoted templates with `${}` and `%{}`,
heredocs, comments) and refuses what it does not understand rather than guessing.

It does not do the rewrites `terraform fmt` adds on top of hclwrite (legacy `"${var.x}"`-only
interpolations, quoted type names), which this repository does not use. Where a terraform binary
is on PATH, the tests also run the real `terraform fmt -check`.

>>> format_hcl('a="x"\\nlong_name = 1\\n')
'a         = "x"\\nlong_name = 1\\n'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_OPENERS = {"OBrace", "OBrack", "OParen", "TemplateInterp", "TemplateControl"}
_CLOSERS = {"CBrace", "CBrack", "CParen", "TemplateSeqEnd"}

# Longest first, so that "==" is not read as "=" "=".
_OPERATORS = [
    ("...", "Ellipsis"),
    ("==", "EqualOp"),
    ("!=", "NotEqual"),
    ("<=", "LessThanEq"),
    (">=", "GreaterThanEq"),
    ("&&", "And"),
    ("||", "Or"),
    ("=>", "FatArrow"),
    ("::", "DoubleColon"),
    ("=", "Equal"),
    ("<", "LessThan"),
    (">", "GreaterThan"),
    ("!", "Bang"),
    ("+", "Plus"),
    ("-", "Minus"),
    ("*", "Star"),
    ("/", "Slash"),
    ("%", "Percent"),
    ("?", "Question"),
    (":", "Colon"),
    (".", "Dot"),
    (",", "Comma"),
    ("{", "OBrace"),
    ("}", "CBrace"),
    ("[", "OBrack"),
    ("]", "CBrack"),
    ("(", "OParen"),
    (")", "CParen"),
]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_HEREDOC_OPEN = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\n")


class HclFormatError(ValueError):
    """The text uses HCL this checker does not understand."""


@dataclass
class Token:
    kind: str
    text: str
    spaces_before: int = 0


class _Lexer:
    def __init__(self, text: str) -> None:
        if "\r" in text or "\t" in text:
            raise HclFormatError("tabs and carriage returns are not canonical HCL")
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def error(self, message: str) -> HclFormatError:
        line = self.text.count("\n", 0, self.pos) + 1
        return HclFormatError(f"line {line}: {message}")

    def emit(self, kind: str, text: str) -> None:
        self.tokens.append(Token(kind, text))
        self.pos += len(text)

    def lex(self) -> list[Token]:
        self.expression(closing=None)
        return self.tokens

    def expression(self, closing: str | None) -> None:
        """Lex tokens until `closing` (the `}` ending a template sequence) or the end of input."""
        depth = 0
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == " ":
                self.pos += 1
            elif char == "\n":
                self.emit("Newline", "\n")
            elif char == "#" or text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.emit("Comment", text[self.pos : len(text) if end < 0 else end + 1])
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos)
                if end < 0 or "\n" in text[self.pos : end]:
                    raise self.error("multi-line /* */ comments are not supported")
                self.emit("Comment", text[self.pos : end + 2])
            elif char == '"':
                self.quoted()
            elif text.startswith("<<", self.pos):
                self.heredoc()
            elif (closing is not None and char == "}" and depth == 0) or (
                closing is not None and text.startswith("~}", self.pos) and depth == 0
            ):
                return
            elif match := _IDENT.match(text, self.pos):
                self.emit("Ident", match.group())
            elif match := _NUMBER.match(text, self.pos):
                self.emit("NumberLit", match.group())
            else:
                for operator, kind in _OPERATORS:
                    if text.startswith(operator, self.pos):
                        depth += {"OBrace": 1, "CBrace": -1}.get(kind, 0)
                        self.emit(kind, operator)
                        break
                else:
                    raise self.error(f"unexpected character {char!r}")
        if closing is not None:
            raise self.error("unterminated template sequence")

    def template_sequence(self) -> None:
        """Lex `${ ... }` or `%{ ... }` starting at the current position."""
        opener = self.text[self.pos : self.pos + 2]
        if self.text.startswith("~", self.pos + 2):
            opener += "~"
        self.emit("TemplateInterp" if opener[0] == "$" else "TemplateControl", opener)
        self.expression(closing="}")
        closer = "~}" if self.text.startswith("~}", self.pos) else "}"
        self.emit("TemplateSeqEnd", closer)

    def quoted(self) -> None:
        self.emit("OQuote", '"')
        text = self.text
        start = self.pos
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise self.error("unterminated string")
            if text[self.pos] == "\\":
                self.pos += 2
            elif text.startswith(("$${", "%%{"), self.pos):
                self.pos += 3
            elif text.startswith(("${", "%{"), self.pos):
                self.flush_literal(start)
                self.template_sequence()
                start = self.pos
            elif text[self.pos] == '"':
                self.flush_literal(start)
                self.emit("CQuote", '"')
                return
            else:
                self.pos += 1

    def flush_literal(self, start: int) -> None:
        if self.pos > start:
            self.tokens.append(Token("QuotedLit", self.text[start : self.pos]))

    def heredoc(self) -> None:
        """A heredoc is kept verbatim: one opaque token from `<<` to its closing marker."""
        match = _HEREDOC_OPEN.match(self.text, self.pos)
        if not match:
            raise self.error("malformed heredoc opener")
        marker = match.group(2)
        closing = re.compile(rf"^[ ]*{re.escape(marker)}$", re.MULTILINE)
        end = closing.search(self.text, match.end())
        if not end:
            raise self.error(f"heredoc {marker} is never closed")
        self.emit("Heredoc", self.text[self.pos : end.end()])


def _bracket_change(token: Token) -> int:
    if token.kind in _OPENERS:
        return 1
    if token.kind in _CLOSERS:
        return -1
    return 0


def _space_after(subject: Token, before: Token | None, after: Token | None) -> bool:
    """hclwrite's spaceAfterToken: one space between two tokens on a line, or none."""
    kind, after_kind = subject.kind, after.kind if after else "Nil"
    before_kind = before.kind if before else "Nil"
    if after_kind in ("Newline", "Nil"):
        return False
    if kind == "Ident" and after_kind == "OParen":
        return False
    if kind == "Dot" or after_kind == "Dot":
        return False
    if after_kind in ("Comma", "Ellipsis"):
        return False
    if kind == "Comma":
        return True
    if kind in ("QuotedLit", "OQuote") or after_kind in ("QuotedLit", "CQuote"):
        return False
    if kind == "Ident" and subject.text == "in" and before_kind == "Ident":
        return True
    if after_kind == "OBrack" and (kind in ("Ident", "NumberLit") or _bracket_change(subject) < 0):
        return False
    if kind == "Bang":
        return False
    if kind == "Minus":
        return before_kind not in {
            "Nil", "OParen", "OBrace", "OBrack", "Equal", "Colon", "Comma", "Question",
            "Plus", "Star", "Slash", "Percent", "Minus", "EqualOp", "NotEqual",
            "GreaterThan", "GreaterThanEq", "LessThan", "LessThanEq", "And", "Or", "Bang",
        }  # fmt: skip
    if kind == "OBrace" or after_kind == "CBrace":
        return not (kind == "OBrace" and after_kind == "CBrace")
    if kind in ("TemplateInterp", "TemplateControl") and after_kind == "OBrace":
        return True
    if kind == "CBrace" and after_kind == "TemplateSeqEnd":
        return True
    if kind == "TemplateSeqEnd" and after_kind in ("TemplateInterp", "TemplateControl"):
        return False
    if _bracket_change(subject) > 0:
        return False
    return not _bracket_change(after) < 0 if after else True


@dataclass
class _Line:
    lead: list[Token]
    assign: list[Token]
    comment: list[Token]
    newline: Token | None


def _columns(tokens: list[Token]) -> int:
    return sum(token.spaces_before + len(token.text) for token in tokens)


def _split_lines(tokens: list[Token]) -> list[_Line]:
    lines: list[_Line] = []
    current: list[Token] = []
    for token in tokens:
        if token.kind == "Newline" or (token.kind == "Comment" and token.text.endswith("\n")):
            lines.append(_make_line(current, token))
            current = []
        else:
            current.append(token)
    if current:
        lines.append(_make_line(current, None))
    return lines


def _make_line(tokens: list[Token], end: Token | None) -> _Line:
    lead, comment = tokens, []
    newline = end
    if end is not None and end.kind == "Comment":
        # A line comment carries the line's newline; alone on a line it is the whole lead.
        if tokens:
            comment = [end]
        else:
            lead = [end]
        newline = None
    assign: list[Token] = []
    for index, token in enumerate(lead):
        if index > 0 and token.kind == "Equal":
            if sum(_bracket_change(t) for t in lead[index:]) == 0:
                lead, assign = lead[:index], lead[index:]
            break
    return _Line(lead, assign, comment, newline)


def _indent(lines: list[_Line]) -> None:
    indents: list[int] = []
    for line in lines:
        if not line.lead:
            continue
        net = 0
        for token in line.lead:
            if token.kind == "Heredoc":
                break
            net += _bracket_change(token)
        net += sum(_bracket_change(token) for token in line.assign)
        if net < 0:
            closed = -net
            while closed > 0 and indents:
                if closed >= indents[-1]:
                    closed -= indents.pop()
                else:
                    indents[-1] -= closed
                    closed = 0
        line.lead[0].spaces_before = 2 * len(indents)
        if net > 0:
            indents.append(net)


def _space(lines: list[_Line]) -> None:
    for line in lines:
        for cell in (line.lead, line.assign):
            for index, token in enumerate(cell):
                before = cell[index - 1] if index > 0 else None
                after = cell[index + 1] if index + 1 < len(cell) else None
                if after is not None:
                    after.spaces_before = 1 if _space_after(token, before, after) else 0
        if line.assign:
            line.assign[0].spaces_before = 1


def _align(lines: list[_Line], cell: str) -> None:
    """Align the first token of `cell` ("assign" or "comment") across consecutive lines."""
    chain: list[_Line] = []

    def width(line: _Line) -> int:
        return _columns(line.lead) + (_columns(line.assign) if cell == "comment" else 0)

    def close() -> None:
        widest = max((width(line) for line in chain), default=0)
        for line in chain:
            getattr(line, cell)[0].spaces_before = widest - width(line) + 1
        chain.clear()

    for line in lines:
        if getattr(line, cell):
            chain.append(line)
        else:
            close()
    close()


def format_hcl(text: str) -> str:
    """Return `text` with hclwrite's canonical whitespace.

    Raises HclFormatError for syntax this formatter does not understand.
    """
    lines = _split_lines(_Lexer(text).lex())
    _indent(lines)
    _space(lines)
    _align(lines, "assign")
    _align(lines, "comment")
    out = []
    for line in lines:
        for token in line.lead + line.assign + line.comment:
            out.append(" " * token.spaces_before + token.text)
        if line.newline is not None:
            out.append("\n")
    return "".join(out)


def unformatted_lines(path: Path) -> list[str]:
    """Describe each line of `path` that `terraform fmt` would change (empty when canonical)."""
    text = path.read_text(encoding="utf-8")
    try:
        formatted = format_hcl(text)
    except HclFormatError as err:
        return [f"{path}: {err}"]
    problems = []
    original_lines, formatted_lines = text.splitlines(), formatted.splitlines()
    pairs = zip(original_lines, formatted_lines, strict=False)
    for number, (got, want) in enumerate(pairs, start=1):
        if got != want:
            problems.append(f"{path}:{number}: {got!r} should be {want!r}")
    if len(original_lines) != len(formatted_lines):
        problems.append(f"{path}: line structure differs from the formatted text")
    if text and not text.endswith("\n"):
        problems.append(f"{path}: no newline at end of file")
    return problems
