"""The Intercom API client against the OpenAPI-validated fake in tests/servers/_intercom_api.py."""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

import ivsecrets.intercom.transport as intercom_module
from ivsecrets.config import WorkspaceConfig
from ivsecrets.environments import Platform
from ivsecrets.errors import ConfigError, IntercomAPIError
from ivsecrets.intercom import (
    IntercomAmbiguousCreateError,
    IntercomAuthError,
    IntercomClient,
    IntercomNotFoundError,
    IntercomRateLimitedError,
    IntercomUnavailableError,
    RecordedSecretState,
    RetryPolicy,
)
from ivsecrets.intercom.client import API_VERSION
from ivsecrets.intercom.transport import HTTPResponse, TransportError, http_client_transport
from ivsecrets.secret import SecretValue
from tests.servers._intercom_api import FakeIntercomAPI, StoredSecret
from tests.servers.intercom import FAST_RETRY

BASE64URL_256 = re.compile(r"^[A-Za-z0-9_-]{43}$")
MakeWorkspace = Callable[..., WorkspaceConfig]


def client_for(api: FakeIntercomAPI, **options: object) -> IntercomClient:
    settings: dict[str, object] = {
        "base_url": api.base_url,
        "workspace": "test",
        "retry": FAST_RETRY,
        "sleep": lambda _: None,
    }
    settings.update(options)
    return IntercomClient(api.token, **settings)  # type: ignore[arg-type]


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- happy paths ----------------------------------------------------------------------------------


def test_list_returns_metadata_of_live_secrets(
    intercom_api: FakeIntercomAPI, intercom_client: IntercomClient
) -> None:
    assert intercom_client.list() == []
    legacy = intercom_api.state.add("Legacy", web=True, created_at=1734537243)
    mobile = intercom_api.state.add("Mobile", ios=True, android=True)
    intercom_api.state.delete(mobile.id)

    [listed] = intercom_client.list()

    assert listed.id == legacy.id
    assert listed.name == "Legacy"
    assert listed.platforms == (Platform.web,)
    assert listed.created_at is not None and listed.created_at.timestamp() == 1734537243
    assert not hasattr(listed, "value")
    assert intercom_api.counts["list"] == 2


def test_create_returns_the_value_once_as_a_secret_value(
    intercom_api: FakeIntercomAPI, intercom_client: IntercomClient
) -> None:
    created = intercom_client.create(Platform.web)

    stored = intercom_api.state.get(created.id)
    assert stored is not None
    assert isinstance(created.value, SecretValue)
    assert created.value.reveal() == stored.secret.encode()
    assert BASE64URL_256.match(created.value.reveal().decode())
    assert created.metadata.platforms == (Platform.web,)
    assert (stored.supports_web, stored.supports_ios, stored.supports_android) == (
        True,
        False,
        False,
    )
    assert created.metadata.name.startswith("ivsecrets web test ")
    assert created.fingerprint == created.value.fingerprint
    assert [s.id for s in intercom_client.list()] == [created.id]
    assert intercom_api.counts["create"] == 1


@pytest.mark.parametrize(
    "platforms",
    [("ios",), ("android", "ios"), (Platform.web, Platform.ios, Platform.android)],
)
def test_create_sets_the_platform_flags(
    intercom_api: FakeIntercomAPI,
    intercom_client: IntercomClient,
    platforms: tuple[str, ...],
) -> None:
    created = intercom_client.create(platforms, name="Rotation")

    stored = intercom_api.state.get(created.id)
    assert stored is not None and stored.name == "Rotation"
    wanted = {Platform.parse(p) for p in platforms}
    assert set(created.metadata.platforms) == wanted
    assert {p for p in Platform if stored.supports(p.value)} == wanted


def test_create_needs_a_platform(
    intercom_api: FakeIntercomAPI, intercom_client: IntercomClient
) -> None:
    with pytest.raises(ValueError, match="at least one platform"):
        intercom_client.create([])
    assert intercom_api.counts["create"] == 0


def test_default_names_are_unique(intercom_client: IntercomClient) -> None:
    first = intercom_client.create("web")
    second = intercom_client.create("web")
    assert first.metadata.name != second.metadata.name
    assert first.id != second.id
    assert first.value != second.value


def test_delete_soft_deletes_and_reports_missing(
    intercom_api: FakeIntercomAPI, intercom_client: IntercomClient
) -> None:
    created = intercom_client.create("web")

    assert intercom_client.delete(created.id) is True

    stored = intercom_api.state.get(created.id)
    assert stored is not None and stored.deleted_at is not None
    assert intercom_client.list() == []
    with pytest.raises(IntercomNotFoundError) as caught:
        intercom_client.delete(created.id)
    assert caught.value.status == 404
    assert caught.value.workspace == "test"
    assert intercom_client.delete(created.id, missing_ok=True) is False
    assert intercom_client.delete("does-not-exist", missing_ok=True) is False
    # A 404 is an answer, not a failure: never retried.
    assert intercom_api.counts["delete"] == 4


def test_delete_answered_404_after_a_lost_answer_counts_as_deleted(
    intercom_api: FakeIntercomAPI, intercom_client: IntercomClient
) -> None:
    secret = intercom_api.state.add(web=True)
    intercom_api.drop_next("delete", after_processing=True)

    assert intercom_client.delete(secret.id) is True
    assert intercom_api.counts["delete"] == 2
    assert [r.status for r in intercom_api.requests] == [None, 404]


# --- verify helpers -------------------------------------------------------------------------------


def test_check_recorded_secret(
    intercom_api: FakeIntercomAPI, intercom_client: IntercomClient
) -> None:
    old = intercom_api.state.add("old web", web=True, created_at=1_700_000_000)
    new = intercom_api.state.add("new web", web=True, ios=True, created_at=1_700_000_100)

    assert [s.id for s in intercom_client.secrets_for("web")] == [new.id, old.id]
    assert [s.id for s in intercom_client.secrets_for(Platform.ios)] == [new.id]
    assert intercom_client.secrets_for("android") == []

    ok = intercom_client.check(old.id, "web")
    assert ok.ok and ok.state is RecordedSecretState.active and ok.secret is not None
    wrong = intercom_client.check(old.id, "ios")
    assert wrong.state is RecordedSecretState.not_enabled and not wrong.ok
    assert "not enabled for ios" in wrong.describe() and "web" in wrong.describe()
    intercom_client.delete(old.id)
    gone = intercom_client.check(old.id, "web")
    assert gone.state is RecordedSecretState.missing and gone.secret is None
    assert "does not exist" in gone.describe()


# --- retries --------------------------------------------------------------------------------------


def test_429_waits_for_retry_after(intercom_api: FakeIntercomAPI) -> None:
    sleeps: list[float] = []
    client = client_for(intercom_api, sleep=sleeps.append)
    intercom_api.fail_next("list", 429, times=2, retry_after=3)

    assert client.list() == []
    assert sleeps == [3.0, 3.0]
    assert intercom_api.counts["list"] == 3


def test_429_waits_for_the_rate_limit_reset(intercom_api: FakeIntercomAPI) -> None:
    sleeps: list[float] = []
    client = client_for(intercom_api, sleep=sleeps.append)
    intercom_api.fail_next("list", 429, ratelimit_reset=int(time.time()) + 5)

    client.list()

    [slept] = sleeps
    assert 3.0 <= slept <= 5.0


def test_429_without_hint_backs_off_exponentially(intercom_api: FakeIntercomAPI) -> None:
    sleeps: list[float] = []
    retry = RetryPolicy(attempts=4, backoff_base=1.0, backoff_max=3.0)
    client = client_for(intercom_api, sleep=sleeps.append, retry=retry)
    intercom_api.fail_next("list", 429, times=3)

    client.list()

    assert len(sleeps) == 3
    for slept, ceiling in zip(sleeps, (1.0, 2.0, 3.0), strict=True):
        assert ceiling / 2 <= slept <= ceiling


def test_429_asking_too_long_a_wait_gives_up_at_once(intercom_api: FakeIntercomAPI) -> None:
    client = client_for(intercom_api, retry=RetryPolicy(max_retry_after=10.0))
    intercom_api.fail_next("create", 429, retry_after=120)

    with pytest.raises(IntercomRateLimitedError) as caught:
        client.create("web")
    assert caught.value.retry_after == 120.0
    assert caught.value.status == 429
    assert isinstance(caught.value, IntercomUnavailableError)
    assert intercom_api.counts["create"] == 1


def test_429_on_create_is_retried(intercom_api: FakeIntercomAPI) -> None:
    client = client_for(intercom_api)
    intercom_api.fail_next("create", 429, retry_after=0)

    created = client.create("ios")

    assert intercom_api.counts["create"] == 2
    assert [s.id for s in intercom_api.state.live()] == [created.id]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_on_list_and_delete(intercom_api: FakeIntercomAPI, status: int) -> None:
    client = client_for(intercom_api)
    secret = intercom_api.state.add(web=True)
    intercom_api.fail_next("list", status, times=2)
    intercom_api.fail_next("delete", status, times=3)

    assert len(client.list()) == 1
    assert client.delete(secret.id) is True
    assert intercom_api.counts["list"] == 3
    assert intercom_api.counts["delete"] == 4


def test_retries_are_bounded(intercom_api: FakeIntercomAPI) -> None:
    client = client_for(intercom_api, retry=RetryPolicy(attempts=3, backoff_base=0.001))
    intercom_api.fail_next("list", 500, times=5)

    with pytest.raises(IntercomUnavailableError) as caught:
        client.list()
    assert caught.value.status == 500
    assert "after 3 attempts" in str(caught.value)
    assert intercom_api.counts["list"] == 3

    intercom_api.clear_faults()
    intercom_api.fail_next("list", 429, times=5)
    with pytest.raises(IntercomRateLimitedError):
        client.list()
    assert intercom_api.counts["list"] == 6


def test_connection_refused_is_retried_then_reported() -> None:
    attempts: list[str] = []

    def counting(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HTTPResponse:
        attempts.append(method)
        return http_client_transport(method, url, headers, body, timeout)

    client = IntercomClient(
        "token-value-for-test",
        base_url=f"http://127.0.0.1:{unused_port()}",
        workspace="test",
        retry=FAST_RETRY,
        transport=counting,
        sleep=lambda _: None,
    )
    with pytest.raises(IntercomUnavailableError, match="could not connect"):
        client.list()
    # Not sent at all, so even create may retry, and the failure is not ambiguous.
    with pytest.raises(IntercomUnavailableError) as caught:
        client.create("web")
    assert not isinstance(caught.value, IntercomAmbiguousCreateError)
    assert len(attempts) == 2 * FAST_RETRY.attempts


# --- errors ---------------------------------------------------------------------------------------


def test_wrong_token_is_an_auth_error_not_retried(intercom_api: FakeIntercomAPI) -> None:
    client = IntercomClient(
        "not-the-right-token-0123456789",
        base_url=intercom_api.base_url,
        workspace="prod",
        retry=FAST_RETRY,
    )
    for call in (client.list, lambda: client.create("web"), lambda: client.delete("101")):
        with pytest.raises(IntercomAuthError) as caught:
            call()
        assert caught.value.status == 401
        assert caught.value.workspace == "prod"
        assert "unauthorized: Access Token Invalid" in str(caught.value)
        assert "not-the-right-token" not in str(caught.value)
    assert intercom_api.counts == {"list": 1, "create": 1, "delete": 1, "total": 3}
    assert intercom_api.state.live() == []


def test_403_is_an_auth_error(intercom_api: FakeIntercomAPI) -> None:
    intercom_api.fail_next("list", 403)
    with pytest.raises(IntercomAuthError) as caught:
        client_for(intercom_api).list()
    assert caught.value.status == 403


def test_422_is_a_plain_api_error(intercom_api: FakeIntercomAPI) -> None:
    intercom_api.fail_next("create", 422)
    with pytest.raises(IntercomAPIError) as caught:
        client_for(intercom_api).create("web")
    assert type(caught.value) is IntercomAPIError
    assert caught.value.status == 422
    assert "parameter_invalid" in str(caught.value)
    assert intercom_api.counts["create"] == 1


# --- ambiguous creates ----------------------------------------------------------------------------


def test_5xx_on_create_is_ambiguous_and_not_retried(intercom_api: FakeIntercomAPI) -> None:
    client = client_for(intercom_api)
    intercom_api.fail_next("create", 500)

    with pytest.raises(IntercomAmbiguousCreateError) as caught:
        client.create(["web", "ios"])

    error = caught.value
    assert error.status == 500
    assert error.platforms == (Platform.web, Platform.ios)
    assert not isinstance(error, IntercomUnavailableError)
    assert intercom_api.counts["create"] == 1
    assert client.reconcile_create(error) == []


def test_dropped_answer_after_create_is_ambiguous_and_reconcilable(
    intercom_api: FakeIntercomAPI,
) -> None:
    client = client_for(intercom_api)
    unrelated = intercom_api.state.add("Legacy", web=True)
    client.create("web")  # an earlier, successful secret for the same platform
    intercom_api.drop_next("create", after_processing=True)

    with pytest.raises(IntercomAmbiguousCreateError) as caught:
        client.create("web")

    assert caught.value.status is None
    assert intercom_api.counts["create"] == 2
    orphans = client.reconcile_create(caught.value)
    assert len(orphans) == 1
    assert orphans[0].name == caught.value.name
    assert orphans[0].id != unrelated.id
    assert client.delete(orphans[0].id)
    assert len(intercom_api.state.live()) == 2


def test_dropped_connection_before_create_is_also_ambiguous(
    intercom_api: FakeIntercomAPI,
) -> None:
    client = client_for(intercom_api)
    intercom_api.drop_next("create", after_processing=False)

    with pytest.raises(IntercomAmbiguousCreateError) as caught:
        client.create("android")
    assert client.reconcile_create(caught.value) == []


def test_timeout_after_sending_create_is_ambiguous(intercom_api: FakeIntercomAPI) -> None:
    client = client_for(intercom_api, timeout=0.2)
    intercom_api.delay_next("create", 0.6)

    with pytest.raises(IntercomAmbiguousCreateError) as caught:
        client.create("web")

    deadline = time.monotonic() + 3
    while not intercom_api.state.live() and time.monotonic() < deadline:
        time.sleep(0.02)
    [orphan] = client.reconcile_create(caught.value)
    assert intercom_api.counts["create"] == 1
    assert orphan.platforms == (Platform.web,)


def test_created_answer_without_a_readable_secret_is_ambiguous() -> None:
    def answer(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HTTPResponse:
        return HTTPResponse(201, {}, json.dumps({"id": "555", "name": "x"}).encode())

    client = IntercomClient("token-value-for-test", transport=answer, workspace="test")
    with pytest.raises(IntercomAmbiguousCreateError) as caught:
        client.create("web")
    assert caught.value.secret_id == "555"


# --- configuration and headers --------------------------------------------------------------------


def test_from_workspace_reads_the_token_variable(
    intercom_api: FakeIntercomAPI, intercom_workspace: MakeWorkspace
) -> None:
    client = IntercomClient.from_workspace(intercom_workspace("prod"))
    assert client.workspace == "prod"
    assert client.base_url == intercom_api.base_url
    assert client.list() == []


def test_token_may_be_a_secret_value(intercom_api: FakeIntercomAPI) -> None:
    client = IntercomClient(SecretValue(intercom_api.token), base_url=intercom_api.base_url)
    assert client.list() == []


def test_from_workspace_names_the_missing_variable(intercom_workspace: MakeWorkspace) -> None:
    workspace = intercom_workspace("prod-eu", set_token=False)
    with pytest.raises(ConfigError) as caught:
        IntercomClient.from_workspace(workspace)
    assert "IVSECRETS_INTERCOM_TOKEN_PROD_EU" in str(caught.value)
    assert caught.value.key == "workspace.prod-eu.intercom_token_env"
    with pytest.raises(ConfigError, match="IVSECRETS_INTERCOM_TOKEN_PROD_EU"):
        IntercomClient.from_workspace(workspace, environ={"IVSECRETS_INTERCOM_TOKEN_PROD_EU": "  "})


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("us", "https://api.intercom.io"),
        ("eu", "https://api.eu.intercom.io"),
        ("au", "https://api.au.intercom.io"),
    ],
)
def test_regional_base_urls(region: str, url: str) -> None:
    workspace = WorkspaceConfig("prod", (Platform.web,), intercom_region=region)
    client = IntercomClient.from_workspace(
        workspace, environ={"IVSECRETS_INTERCOM_TOKEN_PROD": "tok"}
    )
    assert client.base_url == url


def test_unknown_region_and_unsafe_base_urls_are_config_errors() -> None:
    environ = {"T": "tok"}
    with pytest.raises(ConfigError, match="region"):
        IntercomClient.from_workspace(
            WorkspaceConfig("w", (), intercom_region="mars", intercom_token_env="T"), environ
        )
    for url in ("http://api.intercom.io", "ftp://localhost", "https://", "api.intercom.io"):
        with pytest.raises(ConfigError, match="base URL"):
            IntercomClient("tok", base_url=url)
    with pytest.raises(ConfigError):
        IntercomClient("tok\r\nX-Injected: 1")
    proxy = IntercomClient(
        "tok", base_url="https://proxy.example/intercom/", allow_custom_host=True
    )
    assert proxy.base_url == "https://proxy.example/intercom"


def test_sends_the_documented_headers(intercom_api: FakeIntercomAPI) -> None:
    seen: list[tuple[str, str, dict[str, str], float]] = []

    def recording(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HTTPResponse:
        seen.append((method, url, dict(headers), timeout))
        return http_client_transport(method, url, headers, body, timeout)

    client = client_for(intercom_api, transport=recording, timeout=7.5)
    created = client.create("web")
    client.list()
    client.delete(created.id)

    assert [(m, u.removeprefix(intercom_api.base_url)) for m, u, _, _ in seen] == [
        ("POST", "/secure_mode_secrets"),
        ("GET", "/secure_mode_secrets"),
        ("DELETE", f"/secure_mode_secrets/{created.id}"),
    ]
    for _, _, headers, timeout in seen:
        assert headers["Intercom-Version"] == API_VERSION == "Preview"
        assert headers["Accept"] == "application/json"
        assert headers["Authorization"] == f"Bearer {intercom_api.token}"
        assert 7.0 < timeout <= 7.5  # what is left of the call's deadline
    assert seen[0][2]["Content-Type"] == "application/json"


def test_https_proxy_is_used_unless_bypassed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:p%40ss@proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "api.eu.intercom.io")
    proxy = intercom_module._https_proxy("api.intercom.io")
    assert proxy is not None and (proxy.hostname, proxy.port) == ("proxy.internal", 3128)
    assert intercom_module._https_proxy("api.eu.intercom.io") is None


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


# --- no secret or token ever shows ----------------------------------------------------------------


def test_secret_and_token_never_shown(
    intercom_api: FakeIntercomAPI,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="ivsecrets")
    caplog.set_level(logging.DEBUG, logger="ivsecrets.intercom")
    client = client_for(intercom_api)
    intercom_api.fail_next("create", 429, retry_after=0)
    created = client.create(["web", "ios"])
    value = created.value.reveal().decode()
    intercom_api.fail_next("list", 500)
    client.list()
    intercom_api.drop_next("create")
    with pytest.raises(IntercomAmbiguousCreateError) as ambiguous:
        client.create("web")
    client.delete(created.id)
    with pytest.raises(IntercomNotFoundError) as missing:
        client.delete(created.id)

    shown = [
        repr(created),
        str(created),
        repr(created.metadata),
        f"{created.value}",
        repr(client),
        str(vars(client)),
        str(ambiguous.value),
        repr(ambiguous.value),
        str(missing.value),
        caplog.text,
        *(str(r.args) for r in caplog.records),
        *capsys.readouterr(),
    ]
    assert "Intercom create attempt 1 failed" in caplog.text  # the logs were captured
    for text in shown:
        assert value not in text
        assert intercom_api.token not in text
    assert created.fingerprint in caplog.text


def test_token_echoed_in_an_error_body_is_masked() -> None:
    token = "sekrit-token-0123456789"

    def answer(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HTTPResponse:
        error = {"code": "unauthorized", "message": f"bad token {token}"}
        return HTTPResponse(401, {}, json.dumps({"type": "error.list", "errors": [error]}).encode())

    with pytest.raises(IntercomAuthError) as caught:
        IntercomClient(token, transport=answer).list()
    assert token not in str(caught.value)
    assert "<token>" in str(caught.value)


def test_transport_error_keeps_sent_flag() -> None:
    assert TransportError("x", sent=False).sent is False


# --- the fake itself ------------------------------------------------------------------------------


def raw_request(
    api: FakeIntercomAPI, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> int:
    host, port = api.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_the_fake_rejects_traffic_that_breaks_the_description() -> None:
    api = FakeIntercomAPI().start()
    try:
        good = {"Authorization": f"Bearer {api.token}", "Intercom-Version": "Preview"}
        assert raw_request(api, "GET", "/secure_mode_secrets", good) == 200
        api.check()
        bad_version = {**good, "Intercom-Version": "9"}
        assert raw_request(api, "GET", "/secure_mode_secrets", bad_version) == 500
        assert (
            raw_request(
                api,
                "POST",
                "/secure_mode_secrets",
                {**good, "Content-Type": "application/json"},
                b'{"supports_web": true}',
            )
            == 500
        )
        assert raw_request(api, "GET", "/secure_mode_secrets", {"Intercom-Version": "2.11"}) == 500
        assert raw_request(api, "GET", "/nowhere", good) == 500
    finally:
        api.stop()
    assert len(api.validation_errors) == 4
    with pytest.raises(AssertionError, match="does not match the OpenAPI description"):
        api.check()
    assert api.state.live() == []


def test_the_fake_answers_422_for_a_secret_without_platforms(
    intercom_api: FakeIntercomAPI,
) -> None:
    headers = {
        "Authorization": f"Bearer {intercom_api.token}",
        "Content-Type": "application/json",
    }
    assert raw_request(intercom_api, "POST", "/secure_mode_secrets", headers, b'{"name": "x"}') == (
        422
    )
    assert intercom_api.state.live() == []


def test_the_fake_checks_its_own_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeIntercomAPI().start()
    try:
        api.state.add(web=True)
        drifted = StoredSecret.metadata

        def metadata(self: StoredSecret) -> dict[str, object]:
            return {**drifted(self), "created_at": "yesterday"}

        monkeypatch.setattr(StoredSecret, "metadata", metadata)
        with pytest.raises(IntercomUnavailableError):
            client_for(api).list()
    finally:
        api.stop()
    assert api.counts["list"] == FAST_RETRY.attempts
    assert "response 200 to GET /secure_mode_secrets" in api.validation_errors[0]
    with pytest.raises(AssertionError):
        api.check()


def test_concurrent_creates(intercom_api: FakeIntercomAPI, intercom_client: IntercomClient) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda _: intercom_client.create("web"), range(16)))
    assert len({c.id for c in created}) == 16
    assert len({c.value for c in created}) == 16
    assert intercom_api.counts["create"] == 16


def test_the_vendored_description_matches_the_shared_one() -> None:
    from tests.servers._intercom_api import SHARED_SPEC, VENDORED_SPEC

    if not SHARED_SPEC.is_file():
        pytest.skip("no ../shared checkout beside this clone")
    assert VENDORED_SPEC.read_bytes() == SHARED_SPEC.read_bytes(), (
        "tests/data/ drifted from ../shared/intercom/: copy the shared file over"
    )
