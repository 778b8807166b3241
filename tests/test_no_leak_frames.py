"""No secret or token in what an error reporter captures (issue 10, item 18).

Error reporters that capture locals (Sentry by default, rich with ``show_locals``,
``traceback.TracebackException(capture_locals=True)``) repr every local of every frame of a
traceback, follow ``__cause__`` and ``__context__`` (suppressed or not) and record exception
attributes. Every error path the no-leak tests exercise is raised here, and all of that is scanned
for the test secrets and tokens and for any 8-character piece of one.
"""

from __future__ import annotations

import json
import socket
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest

import ivsecrets
from ivsecrets import get_hasher
from ivsecrets.config import StoreConfig, WorkspaceConfig, parse_config
from ivsecrets.environments import Environment, Platform
from ivsecrets.errors import IVSecretsError
from ivsecrets.intercom import IntercomClient
from ivsecrets.intercom.transport import HTTPResponse
from ivsecrets.provider import Provider
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C
from tests.cli.conftest import SECRETS
from tests.conftest import KNOWN_SECRETS
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.aws import SIX_SECRETS, AwsSix
from tests.servers.intercom import FAST_RETRY
from tests.servers.vault import TOKEN_ENV as VAULT_TOKEN_ENV
from tests.servers.vault import BaoServer

TOKEN = "tok_Wq2Er5Ty8Ui1Op4As7Df0Gh3Jk6Lz9Xc2VbNm"
WRONG_TOKEN = "tok_Pl4Mn7Bv1Cx8Za5Sd2Fg9Hj3Kl6Qw0Er2Ty5"
PIECE = 8  # the shortest piece of a secret the scan looks for


def guarded() -> set[str]:
    # SIX_SECRETS (moto's) are spelled ivs6_<platform>_<workspace>_ + SECRET_A's middle: the
    # middle is guarded through SECRET_A, the readable prefix would match "supports_android".
    assert all(value[-24:] in SECRET_A for value in SIX_SECRETS.values())
    return {*KNOWN_SECRETS, *SECRETS.values(), TOKEN, WRONG_TOKEN} - set(SIX_SECRETS.values())


def raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as err:
        return err
    raise AssertionError("the call raised nothing")


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as err:
        return f"<repr failed: {type(err).__name__}>"


def captured(error: BaseException) -> Iterator[str]:
    """What reporters capture: the capture_locals rendering, then a Sentry-style walk."""
    yield "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield _repr(exc)
        yield str(exc)
        for name in dir(exc):
            if name.startswith("__") or name == "with_traceback":
                continue
            value = getattr(exc, name, None)
            if not callable(value):
                yield f"{name}={_repr(value)}"
        tb = exc.__traceback__
        while tb is not None:
            for name, value in tb.tb_frame.f_locals.items():
                yield f"{tb.tb_frame.f_code.co_name}.{name}={_repr(value)}"
            tb = tb.tb_next
        pending += [exc.__cause__, exc.__context__]


def assert_nothing_exposed(error: BaseException) -> None:
    pieces = {s[i : i + PIECE] for s in guarded() for i in range(len(s) - PIECE + 1)}
    # A frame may hold the 5,000-digit user_id under test, which repr() refuses by default.
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        texts = list(captured(error))
    finally:
        sys.set_int_max_str_digits(limit)
    for text in texts:
        found = {text[i : i + PIECE] for i in range(len(text) - PIECE + 1)} & pieces
        assert not found, f"{type(error).__name__} exposes {sorted(found)[:3]} in:\n{text[:3000]}"


# --- the hasher: identifiers, JWT claims, a store that fails ------------------------------------


@pytest.fixture
def env_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    for name, value in SECRETS.items():
        monkeypatch.setenv(f"IVSECRETS_{name}", value)


@pytest.mark.usefixtures("env_default")
@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.messenger_jwt(user_id="42", plan=object()),
        lambda h: h.messenger_jwt(user_id="42", seats={1, 2}),
        lambda h: h.messenger_jwt(user_id=10**5000),
        lambda h: h.messenger_jwt(user_id=""),
        lambda h: h.user_hash(user_id="a\ud800"),
        lambda h: h.user_hash(user_id=10**5000),
        lambda h: h.user_hash(),
        lambda h: h.user_hash(user_id=1.5),
        lambda h: h.verify("00" * 32),
        lambda h: h.verify("00" * 32, user_id=""),
    ],
    ids=[
        "jwt-object-claim",
        "jwt-set-claim",
        "jwt-huge-id",
        "jwt-empty-id",
        "hash-surrogate",
        "hash-huge-id",
        "hash-no-id",
        "hash-float-id",
        "verify-no-id",
        "verify-empty-id",
    ],
)
def test_hasher_errors(call: Callable[[ivsecrets.Hasher], object]) -> None:
    hasher = get_hasher("ios", "prod")
    hasher.user_hash(user_id="warm")  # the key is in the cache: only the call itself can leak
    error = raised(lambda: call(hasher))
    assert isinstance(error, IVSecretsError)
    assert_nothing_exposed(error)


@pytest.mark.usefixtures("env_default")
def test_jwt_with_an_unserialisable_claim_on_a_cold_hasher() -> None:
    assert_nothing_exposed(raised(lambda: get_hasher("web", "prod").messenger_jwt("1", x=object())))


# --- the provider base: JSON secrets, whitespace, not found ---------------------------------------

JSON_VALUES = {
    "missing-key": json.dumps({"web": SECRET_A, "android": SECRET_B}),
    "invalid-json": '{"ios": "' + SECRET_A + '", "web": "' + SECRET_B,
    "not-an-object": json.dumps([SECRET_A, SECRET_B]),
    "not-a-string": json.dumps({"ios": {"nested": SECRET_A}, "web": SECRET_B}),
    "too-deep": "[" * 100_000 + json.dumps(SECRET_A),
    "lone-surrogate": '{"ios": "\\ud800' + SECRET_A + '"}',
    "empty-value": json.dumps({"ios": "   ", "web": SECRET_C}),
}


@pytest.mark.parametrize("value", list(JSON_VALUES.values()), ids=list(JSON_VALUES))
def test_json_secret_errors(
    value: str, monkeypatch: pytest.MonkeyPatch, secrets_of: Callable[..., ivsecrets.Secrets]
) -> None:
    monkeypatch.setenv("IVSECRETS_IOS_PROD", value)
    config = parse_config(
        'workspaces = ["prod"]\nreference = "IVSECRETS_{PLATFORM}_{WORKSPACE}#ios"\n'
    )
    secrets = secrets_of(config)
    for error in (
        raised(lambda: secrets.load("ios", "prod")),
        raised(lambda: secrets.hasher("ios", "prod").user_hash(user_id="1")),
        secrets.current([Environment.of("ios", "prod")])[Environment.of("ios", "prod")],
    ):
        assert isinstance(error, ivsecrets.errors.InvalidSecretError), error
        assert_nothing_exposed(error)


def test_env_store_errors(
    monkeypatch: pytest.MonkeyPatch, secrets_of: Callable[..., ivsecrets.Secrets]
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(f"IVSECRETS_{name}", value)
    monkeypatch.delenv("IVSECRETS_IOS_PROD")
    monkeypatch.setenv("IVSECRETS_WEB_PROD", " \n ")
    secrets = secrets_of(parse_config('workspaces = ["test", "prod"]\n'))
    for call in (
        lambda: secrets.hasher("ios", "prod").user_hash(user_id="1"),
        lambda: secrets.load("web", "prod"),
        lambda: secrets.load("web", "test", ivsecrets.environments.Stage.previous),
        lambda: secrets.hasher("ios", "staging"),
    ):
        assert_nothing_exposed(raised(call))


# --- the AWS store (moto) -----------------------------------------------------------------------


def test_aws_store_errors(aws_six: AwsSix, aws_seed: Callable[..., str]) -> None:
    # The lambdas' free variables are locals a reporter sees: never the fixture with the values.
    provider, env = aws_six.provider, Environment.of("ios", "prod")
    current = aws_six.references[env]
    json_name = aws_seed(json.dumps({"web": SECRET_A, "android": SECRET_B}))
    broken_name = aws_seed('{"ios": "' + SECRET_A)
    for call in (
        lambda: provider.load(env, "ivsecrets-no-such-secret"),
        lambda: provider.load(env, current, ivsecrets.environments.Stage.pending),
        lambda: provider.load(env, f"{json_name}#ios"),
        lambda: provider.load(env, f"{broken_name}#ios"),
    ):
        assert_nothing_exposed(raised(call))
    batch = provider.load_many({env: f"{json_name}#ios", Environment.of("web", "prod"): "nope"})
    for error in batch.values():
        assert isinstance(error, BaseException)
        assert_nothing_exposed(error)


# --- the Vault (OpenBao) and GCP stores ---------------------------------------------------------


@pytest.fixture
def vault_provider(bao_server: BaoServer, monkeypatch: pytest.MonkeyPatch) -> Provider:
    from ivsecrets.plugins.vault import VaultProvider

    monkeypatch.setenv(VAULT_TOKEN_ENV, bao_server.root_token)
    options = {
        "url": bao_server.address,
        "token_env": VAULT_TOKEN_ENV,
        "allow_custom_credentials": True,
    }
    return VaultProvider(StoreConfig("vault", "vault", MappingProxyType(options)))


def test_vault_store_errors(vault_provider: Provider, vault_seed: Callable[..., str]) -> None:
    env = Environment.of("ios", "prod")
    path = vault_seed("ivsecrets-leak-test/ios", SECRET_A)
    for call in (
        lambda: vault_provider.load(env, "ivsecrets-leak-test/no-such-path"),
        lambda: vault_provider.load(env, path, ivsecrets.environments.Stage.pending),
    ):
        assert_nothing_exposed(raised(call))


@pytest.mark.parametrize("case", ["missing-field", "no-previous-version"])
def test_vault_errors_keep_no_kv_data(
    vault_provider: Provider, vault_seed: Callable[..., str], case: str
) -> None:
    env = Environment.of("ios", "prod")
    path = vault_seed(f"ivsecrets-leak-test/{case}", SECRET_A, field="web")
    if case == "missing-field":
        error = raised(lambda: vault_provider.load(env, f"{path}#ios"))
    else:
        error = raised(
            lambda: vault_provider.load(env, f"{path}#web", ivsecrets.environments.Stage.previous)
        )
    assert isinstance(error, ivsecrets.errors.StoreError)
    assert_nothing_exposed(error)


def test_gcp_store_errors(gcp_client: Any, gcp_project: str, gcp_seed: Callable[..., str]) -> None:
    from ivsecrets.plugins.gcp import GcpProvider

    store = StoreConfig("gcp", "gcp", MappingProxyType({"project": gcp_project}))
    provider, env = GcpProvider(store, client=gcp_client), Environment.of("ios", "prod")
    json_id = gcp_seed(json.dumps({"web": SECRET_A, "android": SECRET_B}))
    broken_id = gcp_seed('{"ios": "' + SECRET_A)
    for call in (
        lambda: provider.load(env, "no-such-secret"),
        lambda: provider.load(env, f"{json_id}#ios"),
        lambda: provider.load(env, f"{broken_id}#ios"),
        lambda: provider.load(env, json_id, ivsecrets.environments.Stage.previous),
    ):
        assert_nothing_exposed(raised(call))


# --- the Intercom client ------------------------------------------------------------------------


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def api() -> Iterator[FakeIntercomAPI]:
    fake = FakeIntercomAPI(TOKEN).start()
    try:
        yield fake
    finally:
        fake.stop()
    fake.check()


def client(api: FakeIntercomAPI, token: str = TOKEN, **options: Any) -> IntercomClient:
    settings: dict[str, Any] = {
        "base_url": api.base_url,
        "workspace": "test",
        "retry": FAST_RETRY,
        "sleep": lambda _: None,
    }
    settings.update(options)
    return IntercomClient(token, **settings)


def test_intercom_client_errors(api: FakeIntercomAPI) -> None:
    good = client(api)
    created = good.create(["web", "ios"])
    errors = []
    api.fail_next("list", 500, times=FAST_RETRY.attempts)
    errors.append(raised(good.list))
    api.fail_next("list", 429, times=FAST_RETRY.attempts)
    errors.append(raised(good.list))
    api.drop_next("create")
    errors.append(raised(lambda: good.create("web")))
    api.fail_next("create", 503)
    errors.append(raised(lambda: good.create("android")))
    errors.append(raised(lambda: good.delete("no-such-secret")))
    errors.append(raised(lambda: client(api, WRONG_TOKEN).list()))
    errors.append(raised(lambda: client(api, WRONG_TOKEN).delete(created.id)))
    api.delay_next("list", 1)
    errors.append(raised(lambda: client(api, timeout=0.2).list()))
    refused = f"http://127.0.0.1:{unused_port()}"
    errors.append(raised(lambda: client(api, base_url=refused).list()))
    errors.append(raised(lambda: client(api, base_url=refused).create("web")))
    errors.append(raised(lambda: client(api, base_url=refused).delete("1")))
    for error in errors:
        assert isinstance(error, ivsecrets.errors.IntercomAPIError), error
        assert_nothing_exposed(error)


def test_intercom_answers_that_carry_a_secret(api: FakeIntercomAPI) -> None:
    """A create answer the client cannot use still holds the new secret: not in any frame."""
    bodies = [
        b'{"id": "9", "secret": "' + SECRET_C.encode() + b'", "name": ',  # cut short
        json.dumps({"secret": SECRET_C, "name": "x", "supports_web": True}).encode(),  # no id
    ]

    def answer(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HTTPResponse:
        return HTTPResponse(201, {}, bodies.pop(0))

    for _ in range(2):
        error = raised(lambda: client(api, transport=answer).create("web"))
        assert isinstance(error, ivsecrets.errors.IntercomAPIError)
        assert_nothing_exposed(error)


def test_intercom_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_INTERCOM_TOKEN_PROD", TOKEN)
    monkeypatch.setenv("IVSECRETS_IOS_PROD", SECRET_A)
    workspace = WorkspaceConfig(
        "prod", (Platform.web,), intercom_region="mars", intercom_token_env="NO_SUCH_VARIABLE"
    )
    for call in (
        lambda: IntercomClient.from_workspace(workspace),
        lambda: IntercomClient.from_workspace(
            WorkspaceConfig("prod", (Platform.web,), intercom_region="mars")
        ),
        lambda: IntercomClient.from_workspace(
            WorkspaceConfig(
                "prod", (Platform.web,), intercom_base_url="https://collector.example/api"
            )
        ),
        lambda: IntercomClient(TOKEN, base_url="https://api.intercom.io:99999"),
        lambda: IntercomClient(TOKEN + "\u00e9\u2603"),
        lambda: IntercomClient(TOKEN + "\r\nX-Injected: 1"),
    ):
        error = raised(call)
        assert isinstance(error, ivsecrets.ConfigError), error
        assert_nothing_exposed(error)
