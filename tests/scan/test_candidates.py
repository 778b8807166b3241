"""Which strings a scan fingerprints: few enough to be fast, not so few that a secret is missed."""

from __future__ import annotations

import random
import string
from pathlib import Path

from ivsecrets.scan import KnownSecret, KnownSecrets, scan
from ivsecrets.secret import fingerprint
from tests.scan.conftest import IOS_PROD, known_set, zip_bytes

rng = random.Random(14)


def _word() -> str:
    return "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(4, 12)))


def test_identifiers_and_paths_without_a_digit_are_not_fingerprinted(tmp_path: Path) -> None:
    # What most of a build is: type descriptors of a dex string pool, camelCase and snake_case
    # names. None has a digit or Intercom's length, so none can be a 43-character secret.
    names = [f"L{_word()}/{_word()}/{_word()};" for _ in range(2000)]
    names += [f"{_word()}_{_word()}_{_word()}" for _ in range(2000)]
    names = [name for name in names if len(name.strip("L;")) != 43]
    dex = b"dex\n035\x00" + b"".join(bytes([len(n)]) + n.encode() + b"\x00" for n in names)
    (tmp_path / "app.apk").write_bytes(zip_bytes({"classes.dex": dex}))
    report = scan([tmp_path], known_set())
    assert report.candidates == 0 and not report.findings


def test_a_secret_without_a_digit_of_intercoms_length_is_still_found(tmp_path: Path) -> None:
    secret = "".join(rng.choice(string.ascii_letters + "-_") for _ in range(43))
    known = KnownSecrets([KnownSecret(fingerprint(secret), IOS_PROD, "current")])
    (tmp_path / "a.env").write_text(f"INTERCOM_SECRET={secret}\n")
    (tmp_path / "b.xml").write_bytes(f"<s>{secret}</s>".encode("utf-16-le"))
    expected = [("a.env", "plain"), ("b.xml", "utf-16le")]
    report = scan([tmp_path], known)
    assert [(f.file[-5:], f.encoding) for f in report.findings] == expected
    # other window lengths do not take Intercom's out of the rule
    report = scan([tmp_path], known, window_lengths=(32,))
    assert [(f.file[-5:], f.encoding) for f in report.findings] == expected


def test_utf16_strings_among_thousands_in_a_resource_table(tmp_path: Path) -> None:
    # resources.arsc: a pool of short UTF-16 strings; the secret is one of them, little-endian.
    from ivsecrets.testing import SECRET_B

    pool = [_word() + " " + _word() for _ in range(5000)]
    pool.insert(2500, SECRET_B)
    arsc = b"\x02\x00\x0c\x00" + b"".join(
        len(s).to_bytes(2, "little") + s.encode("utf-16-le") + b"\x00\x00" for s in pool
    )
    (tmp_path / "resources.arsc").write_bytes(arsc)
    report = scan([tmp_path], known_set())
    assert [(f.encoding, f.offset) for f in report.findings] == [
        ("utf-16le", arsc.index(SECRET_B.encode("utf-16-le")))
    ]
