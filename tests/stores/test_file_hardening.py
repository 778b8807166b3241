"""The file store refuses what it must not read (issue 10, items 22 and 18), on real files."""

from __future__ import annotations

import os
import threading
import traceback
from pathlib import Path
from types import MappingProxyType

import pytest

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment
from ivsecrets.errors import AccessDeniedError, InvalidSecretError, StoreError
from ivsecrets.plugins.file import MAX_SIZE, FileProvider
from ivsecrets.testing import SECRET_A, SECRET_B

ENV = Environment.of("ios", "prod")


def file_store(path: Path, **options: object) -> FileProvider:
    return FileProvider(
        StoreConfig("files", "file", MappingProxyType({"path": str(path), **options}))
    )


def private(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir(mode=0o700)
    return directory


# -- item 22: what is read -------------------------------------------------------------------------


def test_a_fifo_is_refused_instead_of_hanging(store_dir: Path) -> None:
    fifo = store_dir / "ios_prod"
    os.mkfifo(fifo, 0o600)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            file_store(store_dir).load(ENV, "ios_prod")
            outcome.append(None)
        except BaseException as err:  # handed to the test thread
            outcome.append(err)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():  # unblock the reader before failing, so no thread is left behind
        with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
        reader.join(timeout=5)
        pytest.fail("loading from a FIFO hung")
    assert isinstance(outcome[0], InvalidSecretError)
    assert "not a regular file (a FIFO)" in str(outcome[0])


@pytest.mark.parametrize("reference", ["../outside", "sub/../../outside"])
def test_a_reference_out_of_the_directory_is_refused(store_dir: Path, reference: str) -> None:
    private(store_dir.parent / "outside", SECRET_A)
    (store_dir / "sub").mkdir(mode=0o700)
    with pytest.raises(AccessDeniedError, match="outside the store directory"):
        file_store(store_dir).load(ENV, reference)


def test_an_absolute_reference_is_refused(store_dir: Path, tmp_path: Path) -> None:
    outside = private(tmp_path / "elsewhere", SECRET_A)
    with pytest.raises(AccessDeniedError, match="outside the store directory"):
        file_store(store_dir).load(ENV, str(outside))


def test_a_symlink_out_of_the_directory_is_refused(store_dir: Path, tmp_path: Path) -> None:
    private(tmp_path / "elsewhere", SECRET_A)
    (store_dir / "ios_prod").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AccessDeniedError, match="outside the store directory"):
        file_store(store_dir).load(ENV, "ios_prod")


def test_the_kubernetes_mounted_secret_layout_still_works(tmp_path: Path) -> None:
    # What the kubelet writes: a timestamped directory, `..data` pointing at it, and one symlink
    # per key through `..data`; the volume itself is a sticky, world-writable tmpfs.
    volume = tmp_path / "volume"
    volume.mkdir()
    volume.chmod(0o1777)
    stamped = volume / "..2026_11_27_10_00_00.123"
    stamped.mkdir(mode=0o755)
    private(stamped / "ios_prod", SECRET_A)
    (volume / "..data").symlink_to(stamped.name)
    (volume / "ios_prod").symlink_to("..data/ios_prod")
    loaded = file_store(volume).load(ENV, "ios_prod")
    assert loaded.value.reveal() == SECRET_A.encode()


def test_a_group_writable_directory_is_refused(store_dir: Path) -> None:
    private(store_dir / "ios_prod", SECRET_A)
    store_dir.chmod(0o770)
    with pytest.raises(AccessDeniedError, match=r"writable by group or others.*chmod go-w"):
        file_store(store_dir).load(ENV, "ios_prod")
    allowed = file_store(store_dir, allow_insecure_permissions=True).load(ENV, "ios_prod")
    assert allowed.value.reveal() == SECRET_A.encode()


def test_a_document_in_a_world_writable_directory_is_refused(store_dir: Path) -> None:
    document = private(store_dir / "secrets.toml", f'ios_prod = "{SECRET_A}"\n')
    store_dir.chmod(0o777)
    with pytest.raises(AccessDeniedError, match="writable by group or others"):
        file_store(document).load(ENV, "ios_prod")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_file_owned_by_another_user_is_refused(store_dir: Path) -> None:
    secret = private(store_dir / "ios_prod", SECRET_A)
    os.chown(secret, 12345, 12345)
    with pytest.raises(AccessDeniedError, match="owned by uid 12345"):
        file_store(store_dir).load(ENV, "ios_prod")


def test_a_file_over_the_size_bound_is_refused(store_dir: Path) -> None:
    private(store_dir / "ios_prod", b"x" * (MAX_SIZE + 1))
    with pytest.raises(InvalidSecretError, match=f"more than the file store reads \\({MAX_SIZE}"):
        file_store(store_dir).load(ENV, "ios_prod")
    private(store_dir / "web_prod", b"x" * MAX_SIZE)
    assert len(file_store(store_dir).load(ENV, "web_prod").value.reveal()) == MAX_SIZE


# -- item 18: no frame local or chained exception keeps the document ---------------------------


def _leaks(err: BaseException, secret: str) -> list[str]:
    """Where ``secret`` (or its start) shows: in a formatted traceback with every frame's locals,
    and in every attribute and frame local of every chained exception (a Sentry-style walk)."""
    needles = (secret, secret[:16])
    found = []
    text = "".join(traceback.TracebackException.from_exception(err, capture_locals=True).format())
    found += [f"formatted traceback holds {n!r}" for n in needles if n in text]
    seen: set[int] = set()
    todo: list[BaseException] = [err]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        values = [*vars(current).values(), *current.args]
        tb = current.__traceback__
        while tb is not None:
            values += [*tb.tb_frame.f_locals.values()]
            tb = tb.tb_next
        for value in values:
            shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
            found += [f"{type(current).__name__} holds {n!r}" for n in needles if n in shown]
    return found


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("secrets.toml", f'ios_prod = "{SECRET_A}"\nweb_prod = "{SECRET_B}\n'),
        ("secrets.json", f'{{"ios_prod": "{SECRET_A}", "web_prod": "{SECRET_B}",}}'),
        ("secrets.toml", f'ios_prod = "{SECRET_A}"\n'.encode() + b"\xff\n"),
        ("secrets.json", f'{{"ios_prod": "{SECRET_A}"}}'.encode() + b"\xfe"),
        ("secrets.toml", f'ios_prod = ["{SECRET_A}"]\n'),
        ("secrets.json", f'["{SECRET_A}"]'),
    ],
    ids=["toml-syntax", "json-syntax", "toml-not-utf8", "json-not-utf8", "not-a-string", "list"],
)
def test_a_bad_document_leaves_no_secret_in_frames_or_chained_errors(
    store_dir: Path, name: str, content: str | bytes
) -> None:
    error = _load_error(file_store(private(store_dir / name, content)))
    assert str(store_dir) in str(error)
    assert SECRET_A not in str(error)
    assert _leaks(error, SECRET_A) == []


def _load_error(store: FileProvider) -> StoreError:
    # Caught here, so the traceback starts in this frame, not in the test's (which holds the
    # document it wrote).
    try:
        store.load(ENV, "ios_prod")
    except StoreError as err:
        return err
    pytest.fail("the load succeeded")


def test_a_syntax_error_names_the_position_only(store_dir: Path) -> None:
    store = file_store(private(store_dir / "s.json", f'{{"ios_prod": "{SECRET_A}",}}'))
    with pytest.raises(InvalidSecretError, match=r"is not valid JSON \(line 1, column \d+\)"):
        store.load(ENV, "ios_prod")
