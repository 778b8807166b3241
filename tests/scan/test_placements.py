"""Each placement of a secret is found, with the right environment and version, by fingerprint."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ivsecrets.scan import Finding, Limits, Scanner, scan
from ivsecrets.secret import fingerprint
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C
from tests.scan.conftest import (
    ANDROID_TEST,
    IOS_PROD,
    WEB_PROD,
    known_set,
    strings_xml,
    tar_bytes,
    zip_bytes,
)

A, B, C = SECRET_A.encode(), SECRET_B.encode(), SECRET_C.encode()


def only(path: Path) -> Finding:
    report = scan([path], known_set())
    assert len(report.findings) == 1, [f.where for f in report.findings]
    assert report.exit_code == 1
    return report.findings[0]


def test_plain_text_in_source(tmp_path: Path) -> None:
    source = tmp_path / "app" / "intercom.py"
    source.parent.mkdir()
    source.write_text(f'import hmac\n\nSECRET = "{SECRET_A}"  # TODO move\n')
    finding = only(tmp_path)
    assert (finding.file, finding.line, finding.column) == (str(source), 3, 11)
    assert finding.known is not None
    assert (finding.known.environment, finding.known.version) == (IOS_PROD, "current")
    assert finding.encoding == "plain" and finding.confidence == "high"


def test_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DEBUG=1\nINTERCOM_IDENTITY_SECRET={SECRET_C}\n")
    finding = only(tmp_path / ".env")
    assert (finding.line, finding.column) == (2, 26)
    assert finding.known is not None
    assert (finding.known.environment, finding.known.version) == (ANDROID_TEST, "pending")
    assert finding.known.version_id == "v3"


def test_minified_javascript_bundle(tmp_path: Path) -> None:
    code = "".join(f"function f{i}(a,b){{return a+b*{i}}};" for i in range(2000))
    bundle = code + f'window.IC={{app:"abc123",h:"{SECRET_B}"}};' + code
    (tmp_path / "main.min.js").write_text(bundle)
    finding = only(tmp_path / "main.min.js")
    assert finding.line == 1 and finding.column == bundle.index(SECRET_B) + 1
    assert finding.known is not None
    assert (finding.known.environment, finding.known.version) == (WEB_PROD, "previous")


def test_utf16_strings_xml_inside_a_zip_inside_a_zip(tmp_path: Path) -> None:
    resources = zip_bytes({"res/values/strings.xml": strings_xml("intercom_secret", SECRET_A)})
    outer = zip_bytes({"lib/sdk.aar": resources, "AndroidManifest.xml": b"\x03\x00\x08\x00"})
    (tmp_path / "app.apk").write_bytes(outer)
    finding = only(tmp_path / "app.apk")
    assert finding.path == f"{tmp_path / 'app.apk'}!/lib/sdk.aar!/res/values/strings.xml"
    assert finding.encoding == "utf-16le"
    assert (finding.line, finding.column) == (3, 34)
    assert finding.known is not None and finding.known.environment == IOS_PROD


def test_utf16_big_endian_ios_strings(tmp_path: Path) -> None:
    text = f'/* Intercom */\n"IntercomSecret" = "{SECRET_B}";\n'
    (tmp_path / "Localizable.strings").write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    finding = only(tmp_path / "Localizable.strings")
    assert finding.encoding.startswith("utf-16")
    assert finding.line == 2
    assert finding.known is not None and finding.known.environment == WEB_PROD


def test_classes_dex_in_an_apk_like_archive(tmp_path: Path) -> None:
    # A dex string pool entry: ULEB128 length, MUTF-8 bytes, NUL; among binary code.
    dex = b"dex\n035\x00" + bytes(range(256)) * 4 + bytes([43]) + A + b"\x00" + bytes(64)
    apk = zip_bytes({"classes.dex": dex, "resources.arsc": b"\x02\x00\x0c\x00" + bytes(100)})
    (tmp_path / "app-release.apk").write_bytes(apk)
    finding = only(tmp_path / "app-release.apk")
    assert finding.member == "classes.dex"
    assert finding.offset == 8 + 1024 + 1 and finding.line is None  # binary: offset only
    assert finding.where.endswith("classes.dex@1033")


def test_compiled_resources_and_binary_plist_as_bytes(tmp_path: Path) -> None:
    arsc = b"\x02\x00\x0c\x00" + bytes(40) + len(SECRET_C).to_bytes(2, "little")
    arsc += SECRET_C.encode("utf-16-le") + b"\x00\x00"
    plist = b"bplist00\xd1\x01\x02_\x10\x2b" + C + b"\x08\x0b" + bytes(20)
    ipa = zip_bytes({"resources.arsc": arsc, "Payload/App.app/Info.plist": plist})
    (tmp_path / "App.ipa").write_bytes(ipa)
    report = scan([tmp_path], known_set())
    members = sorted(f.member or "" for f in report.findings)
    assert members == ["Payload/App.app/Info.plist", "resources.arsc"]


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(A),
        base64.urlsafe_b64encode(A).rstrip(b"="),
        # inside the base64 of a larger blob, at an offset that is not a multiple of three
        base64.b64encode(b'{"workspace":"prod","intercom":{"secret":"' + A + b'"}}'),
        A.hex().encode(),
        A.hex().upper().encode(),
        base64.b64encode(A).hex().encode(),  # two levels
    ],
    ids=["base64", "base64url", "base64-blob", "hex", "HEX", "hex-of-base64"],
)
def test_encoded_forms(tmp_path: Path, encoded: bytes) -> None:
    (tmp_path / "config.yaml").write_bytes(b"kind: Secret\ndata:\n  key: " + encoded + b"\n")
    finding = only(tmp_path / "config.yaml")
    assert finding.encoding != "plain"
    assert (finding.line, finding.column) == (3, 8)  # where the encoded token is
    assert finding.known is not None and finding.known.environment == IOS_PROD


def test_secret_glued_to_other_alphabet_characters(tmp_path: Path) -> None:
    (tmp_path / "url.txt").write_text(f"https://example.test/hook?x=1&tokenX{SECRET_A}Y9\n")
    finding = only(tmp_path / "url.txt")
    assert finding.column == len("https://example.test/hook?x=1&tokenX") + 1


def test_padded_base64_secret_of_another_length(tmp_path: Path) -> None:
    legacy = base64.b64encode(b"legacy-secret-bytes!").decode()  # 28 chars, ends in "="
    assert legacy.endswith("=")
    from ivsecrets.scan import KnownSecret, KnownSecrets

    known = KnownSecrets([KnownSecret(fingerprint(legacy), IOS_PROD, "current")])
    (tmp_path / "a.ini").write_text(f"[intercom]\nsecret={legacy}\n")
    assert len(scan([tmp_path], known).findings) == 1


def test_every_occurrence_is_reported_and_tar_gz_is_opened(tmp_path: Path) -> None:
    text = f"a = '{SECRET_A}'\nb = '{SECRET_A}'\n".encode()
    (tmp_path / "src.tar.gz").write_bytes(tar_bytes({"pkg/settings.py": text}))
    report = scan([tmp_path], known_set())
    assert [(f.member, f.line) for f in report.findings] == [
        ("pkg/settings.py", 1),
        ("pkg/settings.py", 2),
    ]


def test_gzip_member(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "bundle.js.gz").write_bytes(gzip.compress(f'var s="{SECRET_A}";'.encode()))
    finding = only(tmp_path / "bundle.js.gz")
    assert finding.member == "bundle.js"


def test_two_secrets_in_one_file_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "both.json").write_text(f'{{"ios": "{SECRET_A}", "web": "{SECRET_B}"}}')
    report = scan([tmp_path], known_set())
    found = {(f.known.environment, f.known.version) for f in report.findings if f.known}
    assert found == {(IOS_PROD, "current"), (WEB_PROD, "previous")}


def test_clean_tree_and_no_values_in_the_report(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print('hello world, nothing to see here')\n")
    report = Scanner(known_set(), limits=Limits()).scan([tmp_path])
    assert report.exit_code == 0 and not report.findings and report.files == 1


def test_worker_processes_find_the_same_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivsecrets.scan import walk

    monkeypatch.setattr(walk, "PARALLEL_AFTER", 0)
    monkeypatch.setattr(walk, "BATCH_FILES", 5)  # several batches in flight, collected in order
    for i in range(12):
        secret = (SECRET_A, SECRET_B, SECRET_C)[i % 3]
        (tmp_path / f"f{i:02}.js").write_text(f"// {i}\n" * i + f'k="{secret}";\n')
    (tmp_path / "app.apk").write_bytes(zip_bytes({"classes.dex": b"dex\n\x00" + C + b"\x00"}))
    serial = scan([tmp_path], known_set())
    parallel = scan([tmp_path], known_set(), jobs=2)
    assert [f.where for f in parallel.findings] == [f.where for f in serial.findings]
    assert parallel.findings == serial.findings and len(serial.findings) == 13
    assert parallel.candidates >= serial.candidates > 0


def test_a_process_with_other_threads_spawns_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After --from-store, a store client's threads may hold locks: forking would copy them held.
    import threading

    from ivsecrets.scan import walk

    monkeypatch.setattr(walk, "PARALLEL_AFTER", 0)
    monkeypatch.setattr(walk, "BATCH_FILES", 2)
    for i in range(5):
        (tmp_path / f"f{i}.js").write_text(f'k="{(SECRET_A, SECRET_B)[i % 2]}";\n')
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert walk._start_method() == "spawn"
        parallel = scan([tmp_path], known_set(), jobs=2)
    finally:
        stop.set()
        thread.join()
    assert parallel.findings == scan([tmp_path], known_set()).findings
    assert len(parallel.findings) == 5
