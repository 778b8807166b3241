"""The aws-agent store against our agent server (tests/servers/aws_agent.py) over moto.

It runs the remote contract (outages, an unreachable agent, a denied reader) like every networked
store; the contract's SDK tests do not apply to a plugin that reads with ``urllib`` (no SDK, no
client to drop, no lock, no SDK logger) and are left out below, each with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from ivsecrets import Secrets
from ivsecrets.config import StoreConfig, parse_config
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import AccessDeniedError, ConfigError, StoreError, StoreUnavailableError
from ivsecrets.hashing import user_hash
from ivsecrets.plugins.aws_agent import AwsAgentProvider
from ivsecrets.testing import (
    SECRET_A,
    SECRET_B,
    Denial,
    Outage,
    ProviderFactory,
    RemoteProviderContract,
    Seed,
)
from tests.servers.aws import AwsSix
from tests.servers.aws_agent import AgentServer

IOS_PROD = Environment.of("ios", "prod")


def store(**options: object) -> StoreConfig:
    return StoreConfig("aws-agent", "aws-agent", MappingProxyType(options))


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_TOKEN", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


class TestAwsAgentContract(RemoteProviderContract):
    unknown_option = ("token_fil", "token_file")
    fail_fast_options = {"timeout": 0.5}
    unreachable_message = "could not be reached"
    denied_message = "AccessDenied"

    @pytest.fixture
    def provider_factory(self, aws_agent: AgentServer, no_token_env: None) -> ProviderFactory:
        return lambda **options: AwsAgentProvider(
            store(endpoint=aws_agent.url, token_file=str(aws_agent.token_file), **options)
        )

    @pytest.fixture
    def seed(self, aws_seed: Callable[..., str]) -> Seed:
        return lambda value: aws_seed(value)

    @pytest.fixture
    def outage(self, aws_agent: AgentServer) -> Outage:
        return aws_agent.outage

    @pytest.fixture
    def denied_setup(
        self, provider_factory: ProviderFactory, aws_agent: AgentServer, seed: Seed, tmp_path: Path
    ) -> Denial:
        # The agent admits a reader by its SSRF token: the denied reference is read by a
        # process of the node that holds another one.
        wrong = tmp_path / "another-token"
        wrong.write_text("not-the-agents-token\n")
        options = {"endpoint": aws_agent.url, "token_file": str(wrong)}
        denier = AwsAgentProvider(
            StoreConfig("aws-agent-ios", "aws-agent", MappingProxyType(options))
        )
        return Denial(provider_factory(), seed(SECRET_A), seed(SECRET_B), denier)

    # The contract's SDK tests, which have nothing to test here.
    @pytest.mark.skip(reason="no SDK and no extra: the plugin reads with urllib")
    def test_missing_sdk_names_the_extra(self, *_: object, **__: object) -> None: ...

    @pytest.mark.skip(reason="no client to build, drop or inject: each read is one HTTP request")
    def test_reset_drops_a_built_client_and_keeps_an_injected_one(
        self, *_: object, **__: object
    ) -> None: ...

    @pytest.mark.skip(reason="no lock: nothing a forked child could inherit held")
    def test_reset_takes_no_lock(self, *_: object, **__: object) -> None: ...

    @pytest.mark.skip(reason="no SDK logger: urllib logs nothing")
    def test_sdk_debug_logs_carry_no_secret(self, *_: object, **__: object) -> None: ...


def test_stage_reads_for_previous_and_pending(
    aws_agent: AgentServer, aws_seed: Callable[..., str], aws_client: Any, no_token_env: None
) -> None:
    name = aws_seed(SECRET_A)
    aws_client.put_secret_value(SecretId=name, SecretString=SECRET_B)  # A becomes AWSPREVIOUS
    provider = AwsAgentProvider(store(endpoint=aws_agent.url, token_file=str(aws_agent.token_file)))
    assert provider.load(IOS_PROD, name).value.reveal() == SECRET_B.encode()
    previous = provider.load(IOS_PROD, name, Stage.previous)
    assert previous.value.reveal() == SECRET_A.encode()
    assert previous.stage is Stage.previous
    staged = aws_client.put_secret_value(
        SecretId=name, SecretString="pending-" + SECRET_A, VersionStages=["AWSPENDING"]
    )
    pending = provider.load(IOS_PROD, name, Stage.pending)
    assert pending.version == staged["VersionId"]


@pytest.mark.parametrize(
    "source", ["token_file", "AWS_TOKEN=file://", "AWS_TOKEN", "AWS_SESSION_TOKEN"]
)
def test_the_ssrf_token_comes_from_where_the_agent_documents(
    aws_agent: AgentServer,
    aws_seed: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    no_token_env: None,
    source: str,
) -> None:
    name = aws_seed(SECRET_A)
    options: dict[str, object] = {"endpoint": aws_agent.url}
    if source == "token_file":
        options["token_file"] = str(aws_agent.token_file)
    elif source == "AWS_TOKEN=file://":
        monkeypatch.setenv("AWS_TOKEN", f"file://{aws_agent.token_file}")
    else:  # the Lambda extension takes the function's session token
        monkeypatch.setenv(source, aws_agent.token)
    provider = AwsAgentProvider(store(**options))
    assert provider.load(IOS_PROD, name).value.reveal() == SECRET_A.encode()


def test_a_wrong_or_missing_token_is_access_denied(
    aws_agent: AgentServer, aws_seed: Callable[..., str], tmp_path: Path, no_token_env: None
) -> None:
    name = aws_seed(SECRET_A)
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    provider = AwsAgentProvider(store(endpoint=aws_agent.url, token_file=str(wrong)))
    with pytest.raises(AccessDeniedError, match="SSRF token") as info:
        provider.load(IOS_PROD, name)
    assert aws_agent.token not in str(info.value)
    if not os.path.exists("/var/run/awssmatoken"):
        with pytest.raises(AccessDeniedError, match="no SSRF token"):
            AwsAgentProvider(store(endpoint=aws_agent.url)).load(IOS_PROD, name)


def test_the_endpoint_must_be_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback") as info:
        AwsAgentProvider(store(endpoint="http://agent.example.com:2773"))
    assert info.value.key == "stores.aws-agent.endpoint"


def test_an_absent_agent_is_store_unavailable(no_token_env: None, tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("x")
    provider = AwsAgentProvider(
        store(endpoint="http://127.0.0.1:9", token_file=str(token), timeout=1)
    )
    with pytest.raises(StoreUnavailableError, match="could not be reached"):
        provider.load(IOS_PROD, "ivsecrets-prod-ios")


def test_processes_of_a_node_share_the_agent_so_the_store_load_does_not_grow(
    aws_six: AwsSix, aws_agent: AgentServer, no_token_env: None
) -> None:
    text = (
        'store = "aws-agent"\n'
        "[stores.aws-agent]\n"
        f'endpoint = "{aws_agent.url}"\n'
        f'token_file = "{aws_agent.token_file}"\n'
    )
    config = parse_config(text, "agent.toml")
    processes = [Secrets(config) for _ in range(8)]  # eight workers of one node
    try:
        for secrets in processes:
            for env, value in aws_six.secrets.items():
                hasher = secrets.hasher(env.platform, env.workspace)
                assert hasher.user_hash(user_id="1") == user_hash(value, user_id="1")
    finally:
        for secrets in processes:
            secrets.close()
    assert aws_agent.requests == 8 * 6
    assert aws_agent.store_calls == 6, "one call per secret per agent ttl, whatever the workers"


@pytest.mark.parametrize(
    "code",
    [
        "Throttling",  # missing from the agent's own list before issue 18
        "ExpiredTokenException",  # likewise
        "ExpiredToken",
        "ThrottlingException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "InternalServiceError",
    ],
)
def test_relayed_aws_errors_map_as_the_aws_store_maps_them(
    aws_agent: AgentServer,
    monkeypatch: pytest.MonkeyPatch,
    no_token_env: None,
    code: str,
) -> None:
    from botocore.exceptions import ClientError

    from ivsecrets.plugins.aws import store_error

    def refuse(**kwargs: object) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "GetSecretValue")

    monkeypatch.setattr(aws_agent.client, "get_secret_value", refuse)
    provider = AwsAgentProvider(store(endpoint=aws_agent.url, token_file=str(aws_agent.token_file)))
    with pytest.raises(StoreError) as info:
        provider.load(IOS_PROD, "ivsecrets-prod-ios")
    # The agent relays AWS's error as HTTP 400 with its type, as AWS answers the aws store.
    assert type(info.value) is type(store_error(code, "", 400))
    assert type(info.value) is not StoreError


def test_the_aws_stores_share_one_stage_label_set() -> None:
    from ivsecrets.environments import AWS_STAGE_LABELS
    from ivsecrets.plugins import aws_agent
    from ivsecrets.plugins.aws import LABELS

    assert LABELS is AWS_STAGE_LABELS and aws_agent.LABELS is AWS_STAGE_LABELS
