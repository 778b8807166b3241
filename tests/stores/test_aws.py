"""The aws store against moto's Secrets Manager via HTTP (fixtures: tests/servers/aws.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from botocore.stub import Stubber

import ivsecrets
from ivsecrets.config import StoreConfig, parse_config
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    ConcurrentRotationError,
    ConfigError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.hashing import user_hash
from ivsecrets.plugins.aws import INTERCOM_TAG, AwsProvider
from ivsecrets.secret import SecretValue, fingerprint
from ivsecrets.testing import (
    SECRET_A,
    SECRET_B,
    SECRET_C,
    Denial,
    Outage,
    ProviderFactory,
    RemoteProviderContract,
    Seed,
    WritableProviderContract,
)
from tests.servers.aws import (
    REGION,
    AwsSix,
    MotoServer,
    aws_boto_session,
    ensure_lease_table,
    iam_user,
)

IOS_PROD, WEB_PROD = Environment.of("ios", "prod"), Environment.of("web", "prod")


def store(**options: object) -> StoreConfig:
    return StoreConfig("aws", "aws", MappingProxyType(options))


def count_calls(provider: AwsProvider) -> list[str]:
    """The name of every API operation the provider's client calls from now on."""
    calls: list[str] = []
    provider.client().meta.events.register(
        "before-call.secretsmanager.*", lambda model, **_: calls.append(model.name)
    )
    return calls


@pytest.fixture
def admin_provider(aws_client: Any) -> AwsProvider:
    """A provider with the admin client injected."""
    return AwsProvider(store(), client=aws_client)


class TestAwsContract(RemoteProviderContract, WritableProviderContract):
    extra, sdk_package, sdk_modules = "aws", "boto3", ("boto3", "botocore")
    fail_fast_options = {"connect_timeout": 0.5, "max_attempts": 1}
    unreachable_message = "could not be reached"
    denied_message = "not authorized"
    unknown_option = ("regoin", "region")

    @pytest.fixture
    def provider_factory(self, moto_server: str) -> ProviderFactory:
        # Built from options, as a configuration would, with dummy credentials injected.
        return lambda **options: AwsProvider(
            store(region=REGION, endpoint_url=moto_server, **options), session=aws_boto_session()
        )

    @pytest.fixture
    def seed(self, aws_seed: Seed) -> Seed:
        return aws_seed

    @pytest.fixture
    def outage(self, moto_control: MotoServer) -> Outage:
        return moto_control.outage  # moto's data lives in-process: it survives the restart

    @pytest.fixture
    def denied_setup(self, seed: Seed, moto_control: MotoServer) -> Iterator[Denial]:
        # moto checks IAM per action only (not per secret ARN): the denied reference is read
        # with the keys of a user who has no Secrets Manager permission at all.
        allowed, denied = seed(SECRET_A), seed(SECRET_B)
        actions = ["secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"]
        reader = iam_user(moto_control.url, "reader", actions)
        nobody = iam_user(moto_control.url, "nobody", [])

        def provider(name: str, keys: dict[str, str]) -> AwsProvider:
            options = {"region": REGION, "endpoint_url": moto_control.url}
            config = StoreConfig(name, "aws", MappingProxyType(options))
            return AwsProvider(config, session=aws_boto_session(**keys))

        with moto_control.iam_enforced():
            yield Denial(provider("aws", reader), allowed, denied, provider("aws-ios", nobody))

    @pytest.fixture
    def injected(self, aws_client: Any) -> tuple[AwsProvider, Any]:
        return AwsProvider(store(), client=aws_client), aws_client

    def test_botocore_records_are_redacted_not_dropped(
        self, sdk_debug_records: list[logging.LogRecord]
    ) -> None:
        assert any("redacted by ivsecrets" in r.getMessage() for r in sdk_debug_records)


# -- issue 3 "Done when" -------------------------------------------------------------------------


def test_get_hasher_end_to_end_with_the_readme_config(
    aws_six: AwsSix, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ivsecrets.toml"
    path.write_text(aws_six.config_text)
    monkeypatch.setenv("IVSECRETS_CONFIG", str(path))
    for env, secret in aws_six.secrets.items():
        hasher = ivsecrets.get_hasher(env.platform.value, env.workspace)
        assert hasher.user_hash(user_id="42") == user_hash(secret, user_id="42")
        assert hasher.fingerprint == fingerprint(secret)


def test_endpoint_url_comes_from_aws_endpoint_url(aws_six: AwsSix, secrets_of: Any) -> None:
    # aws_env sets AWS_ENDPOINT_URL; boto3 reads it when the option is absent.
    text = aws_six.config_text.replace(f'endpoint_url = "{aws_six.endpoint_url}"\n', "")
    assert "endpoint_url" not in text
    secrets = secrets_of(parse_config(text))
    secret = aws_six.secrets[IOS_PROD]
    assert secrets.hasher("ios", "prod").user_hash(email="a@b.c") == user_hash(
        secret, email="a@b.c"
    )


@pytest.mark.parametrize(
    ("read_api", "expected"),
    [("batch", ["BatchGetSecretValue"]), ("describe-then-get", ["GetSecretValue"] * 6)],
)
def test_cold_start_of_six_secrets_costs_one_call_per_read_api(
    aws_six: AwsSix, secrets_of: Any, read_api: str, expected: list[str]
) -> None:
    # The default (describe-then-get) cold-loads with GetSecretValue: its quota is 100 times
    # BatchGetSecretValue's, which a fleet's rolling restart would exceed (docs/stores/aws.md).
    base = aws_six.config.stores["aws"]
    options = MappingProxyType({**base.options, "read_api": read_api})
    provider = AwsProvider(replace(base, options=options), session=aws_boto_session())
    calls = count_calls(provider)
    sent: list[str] = []
    provider.client().meta.events.register(
        "before-send.secretsmanager.*", lambda request, **_: sent.append(request.url)
    )
    secrets = secrets_of(aws_six.config, providers={"aws": provider})
    for env, secret in aws_six.secrets.items():
        hasher = secrets.hasher(env.platform, env.workspace)
        assert hasher.user_hash(user_id="42") == user_hash(secret, user_id="42")
    assert calls == expected
    assert len(sent) == len(expected)  # and no retry behind it


def test_missing_secret_fails_its_environment_only(
    aws_six: AwsSix, aws_client: Any, secrets_of: Any
) -> None:
    missing = aws_six.references[IOS_PROD]
    aws_client.delete_secret(SecretId=missing, ForceDeleteWithoutRecovery=True)
    secrets = secrets_of(aws_six.config)
    with pytest.raises(SecretNotFoundError) as info:
        secrets.hasher("ios", "prod").user_hash(user_id="42")
    assert info.value.environment == IOS_PROD
    assert info.value.reference == missing
    assert info.value.store == "aws"
    web = aws_six.secrets[WEB_PROD]
    assert secrets.hasher("web", "prod").user_hash(user_id="42") == user_hash(web, user_id="42")
    assert all(value not in str(info.value) for value in aws_six.secrets.values())


def test_reader_without_the_batch_permission_reads_one_by_one(
    aws_six: AwsSix, moto_control: MotoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = iam_user(moto_control.url, "get-only", ["secretsmanager:GetSecretValue"])
    provider = AwsProvider(aws_six.config.stores["aws"], session=aws_boto_session(**keys))
    wanted = {env: aws_six.references[env] for env in aws_six.secrets}
    with moto_control.iam_enforced():
        calls = count_calls(provider)
        first = provider.load_many(wanted)
        assert calls == ["BatchGetSecretValue"] + ["GetSecretValue"] * 6
        calls.clear()
        second = provider.load_many(wanted)
        assert calls == ["GetSecretValue"] * 6  # the batch is not retried on every refresh
        # Without DescribeSecret, versions are still listed (by stage).
        versions = provider.versions(IOS_PROD, aws_six.references[IOS_PROD])
        assert [v.stages for v in versions] == [(Stage.current,)]
        assert versions[0].fingerprint == fingerprint(aws_six.secrets[IOS_PROD])
    for results in (first, second):
        for env, secret in aws_six.secrets.items():
            loaded = results[env]
            assert not isinstance(loaded, Exception)
            assert loaded.value.reveal() == secret.encode()
    assert "BatchGetSecretValue" in caplog.text


# -- reading -------------------------------------------------------------------------------------


def test_references_by_arn_partial_arn_and_binary_secrets(
    admin_provider: AwsProvider, aws_seed: Callable[..., str], aws_client: Any
) -> None:
    by_arn, by_partial = aws_seed(SECRET_A), aws_seed(SECRET_B)
    binary = aws_seed(SECRET_C.encode())
    arn = aws_client.describe_secret(SecretId=by_arn)["ARN"]
    partial = aws_client.describe_secret(SecretId=by_partial)["ARN"][:-7]
    envs = [Environment.of(p, "prod") for p in ("web", "ios", "android")]
    calls = count_calls(admin_provider)
    results = admin_provider.load_many(dict(zip(envs, [arn, partial, binary], strict=True)))
    assert calls == ["BatchGetSecretValue"]
    for env, value in zip(envs, (SECRET_A, SECRET_B, SECRET_C), strict=True):
        loaded = results[env]
        assert not isinstance(loaded, Exception), loaded
        assert loaded.value.reveal() == value.encode()
    assert admin_provider.load(IOS_PROD, arn).value.reveal() == SECRET_A.encode()
    assert admin_provider.load(IOS_PROD, binary).value.reveal() == SECRET_C.encode()


def test_more_than_twenty_secrets_load_in_chunks(
    admin_provider: AwsProvider, aws_seed: Callable[..., str]
) -> None:
    wanted = {Environment.of("web", f"ws{i}"): aws_seed(f"{SECRET_A}-{i}") for i in range(25)}
    calls = count_calls(admin_provider)
    results = admin_provider.load_many(wanted)
    assert calls == ["BatchGetSecretValue", "BatchGetSecretValue"]
    for i, env in enumerate(wanted):
        loaded = results[env]
        assert not isinstance(loaded, Exception)
        assert loaded.value.reveal() == f"{SECRET_A}-{i}".encode()


@pytest.fixture
def stubbed() -> Iterator[tuple[AwsProvider, Stubber]]:
    """A provider whose client answers from botocore's Stubber (for errors moto cannot produce)."""
    client = aws_boto_session().client("secretsmanager", endpoint_url="http://127.0.0.1:9")
    with Stubber(client) as stubber:
        yield AwsProvider(store(), client=client), stubber
        stubber.assert_no_pending_responses()


def test_per_secret_batch_errors_map_to_our_errors(
    stubbed: tuple[AwsProvider, Stubber],
) -> None:
    provider, stubber = stubbed
    codes = {
        "a": "ResourceNotFoundException",
        "b": "AccessDeniedException",
        "c": "DecryptionFailure",
        "d": "InternalServiceError",
    }
    errors = [{"SecretId": n, "ErrorCode": c, "Message": "no"} for n, c in codes.items()]
    value = {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:e-AbCdEf", "Name": "e"}
    stubber.add_response(
        "batch_get_secret_value",
        {
            "SecretValues": [
                {
                    **value,
                    "SecretString": SECRET_A,
                    "VersionId": "v" * 32,
                    "VersionStages": ["AWSCURRENT"],
                }
            ],
            "Errors": errors,
        },
        {"SecretIdList": [*codes, "e"]},
    )
    envs = {Environment.of("web", f"w{n}"): n for n in [*codes, "e"]}
    loaded = provider.load_many(envs)
    results = {name: loaded[env] for env, name in envs.items()}
    assert isinstance(results["a"], SecretNotFoundError)
    assert isinstance(results["b"], AccessDeniedError)
    assert isinstance(results["c"], AccessDeniedError)  # KMS: may not decrypt
    assert isinstance(results["d"], StoreUnavailableError)
    ok = results["e"]
    assert not isinstance(ok, Exception) and ok.value.reveal() == SECRET_A.encode()


@pytest.mark.parametrize(
    ("code", "status", "message", "expected"),
    [
        ("ThrottlingException", 400, "Rate exceeded", StoreThrottledError),
        ("TooManyRequestsException", 429, "slow down", StoreThrottledError),
        ("InternalServiceError", 500, "oops", StoreUnavailableError),
        ("UnrecognizedClientException", 400, "bad token", AccessDeniedError),
        ("AccessDeniedException", 400, "not authorized", AccessDeniedError),
        ("ResourceNotFoundException", 400, "no such secret", SecretNotFoundError),
        ("InvalidRequestException", 400, "it was marked for deletion", SecretNotFoundError),
        ("ValidationException", 400, "bad name", StoreError),
    ],
)
def test_client_errors_map_to_our_errors(
    stubbed: tuple[AwsProvider, Stubber],
    code: str,
    status: int,
    message: str,
    expected: type[StoreError],
) -> None:
    provider, stubber = stubbed
    stubber.add_client_error("get_secret_value", code, message, http_status_code=status)
    with pytest.raises(expected) as info:
        provider.load(IOS_PROD, "ivsecrets-prod-ios")
    assert type(info.value) is expected
    assert code in str(info.value) and info.value.reference == "ivsecrets-prod-ios"


# -- options and clients -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"read_timeout": "fast"}, "stores.aws.read_timeout"),
        ({"max_attempts": 0}, "stores.aws.max_attempts"),
        ({"region": 1}, "stores.aws.region"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        AwsProvider(store(**options))
    assert info.value.key == key


def test_unknown_profile_and_missing_region_are_config_errors(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as info:
        AwsProvider(store(profile="no-such-profile")).load(IOS_PROD, "x")
    assert info.value.key == "stores.aws.profile"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ConfigError) as info:
        AwsProvider(store()).load(IOS_PROD, "x")
    assert info.value.key == "stores.aws.region"


def test_aws_region_alone_sets_the_region(
    aws_env: str, aws_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore reads AWS_DEFAULT_REGION only; AWS_REGION (what the docs, the CLI's messages and
    GitHub's OIDC action set) must be enough, for the secrets and for the lease table."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    ensure_lease_table(aws_env)
    provider = AwsProvider(store())
    assert provider.client().meta.region_name == REGION
    assert provider.lease_table.read("arn:aws:secretsmanager:x") == (None, 0)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    # AWS_REGION wins over AWS_DEFAULT_REGION (as in the AWS CLI and the other SDKs); the option
    # wins over both.
    assert AwsProvider(store()).client().meta.region_name == "eu-west-1"
    assert AwsProvider(store(region="ap-south-1")).client().meta.region_name == "ap-south-1"


# -- rotation beyond the contract ----------------------------------------------------------------


def _rotate(provider: AwsProvider, ref: str, value: str, intercom_id: str | None = None) -> str:
    current = provider.load(None, ref)
    staged = provider.stage(ref, SecretValue(value), intercom_secret_id=intercom_id)
    assert staged.version is not None
    provider.promote(ref, pending_version=staged.version, expected_current_version=current.version)
    return staged.version


def test_promoted_secret_is_served_by_the_batch_read(
    admin_provider: AwsProvider, aws_seed: Callable[..., str], aws_client: Any
) -> None:
    ref = aws_seed(SECRET_A)
    version = _rotate(admin_provider, ref, SECRET_B)
    loaded = admin_provider.load_many({IOS_PROD: ref})[IOS_PROD]
    assert not isinstance(loaded, Exception)
    assert (loaded.value.reveal(), loaded.version) == (SECRET_B.encode(), version)
    stages = aws_client.describe_secret(SecretId=ref)["VersionIdsToStages"]
    assert stages[version] == ["AWSCURRENT"]  # AWSPENDING was removed from it


def test_rotating_a_json_key_keeps_the_other_keys(
    admin_provider: AwsProvider, aws_seed: Callable[..., str]
) -> None:
    name = aws_seed(json.dumps({"ios": SECRET_A, "web": SECRET_C}))
    _rotate(admin_provider, name + "#ios", SECRET_B)
    assert admin_provider.load(IOS_PROD, name + "#ios").value.reveal() == SECRET_B.encode()
    assert admin_provider.load(WEB_PROD, name + "#web").value.reveal() == SECRET_C.encode()
    previous = admin_provider.load(IOS_PROD, name + "#ios", Stage.previous)
    assert previous.value.reveal() == SECRET_A.encode()


def test_intercom_ids_are_tagged_per_version_and_pruned(
    admin_provider: AwsProvider, aws_seed: Callable[..., str], aws_client: Any
) -> None:
    ref = aws_seed(SECRET_A)
    first = _rotate(admin_provider, ref, SECRET_B, "ic_b")
    admin_provider.retire_previous(
        ref, expected_previous_version=str(admin_provider.load(None, ref, Stage.previous).version)
    )
    second = _rotate(admin_provider, ref, SECRET_C, "ic_c")
    previous = admin_provider.load(None, ref, Stage.previous)
    admin_provider.retire_previous(ref, expected_previous_version=str(previous.version))
    admin_provider.stage(ref, SecretValue(SECRET_A + "x"), intercom_secret_id="ic_d")
    tags = {t["Key"]: t["Value"] for t in aws_client.describe_secret(SecretId=ref)["Tags"]}
    ours = {k: v for k, v in tags.items() if k.startswith(INTERCOM_TAG)}
    assert INTERCOM_TAG + first not in ours  # its version is no longer labelled
    assert ours[INTERCOM_TAG + second] == "ic_c"
    assert sorted(ours.values()) == ["ic_c", "ic_d"]
    # Retiring twice (a resumed run) is a no-op.
    admin_provider.retire_previous(ref, expected_previous_version=str(previous.version))


def test_interrupted_promote_is_finished_by_a_rerun(
    admin_provider: AwsProvider, aws_seed: Callable[..., str], aws_client: Any
) -> None:
    ref = aws_seed(SECRET_A)
    current = admin_provider.load(None, ref)
    staged = admin_provider.stage(ref, SecretValue(SECRET_B))
    assert staged.version is not None
    # The label move happened, the AWSPENDING clean-up did not (a crash in between).
    aws_client.update_secret_version_stage(
        SecretId=ref,
        VersionStage="AWSCURRENT",
        MoveToVersionId=staged.version,
        RemoveFromVersionId=current.version,
    )
    admin_provider.promote(
        ref, pending_version=staged.version, expected_current_version=current.version
    )
    with pytest.raises(SecretNotFoundError):
        admin_provider.load(None, ref, Stage.pending)
    assert admin_provider.load(None, ref).value.reveal() == SECRET_B.encode()
    # Nothing is pending any more: a discard says so rather than return silently (issue 11).
    with pytest.raises(ConcurrentRotationError, match="no longer pending"):
        admin_provider.discard_pending(ref, pending_version=staged.version)


def test_stage_clears_a_pending_label_left_on_the_current_version(
    admin_provider: AwsProvider, aws_seed: Callable[..., str], aws_client: Any
) -> None:
    ref = aws_seed(SECRET_A)
    current = admin_provider.load(None, ref)
    aws_client.update_secret_version_stage(
        SecretId=ref, VersionStage="AWSPENDING", MoveToVersionId=current.version
    )
    staged = admin_provider.stage(ref, SecretValue(SECRET_B))
    assert staged.version != current.version
    assert admin_provider.load(None, ref, Stage.pending).value.reveal() == SECRET_B.encode()


# -- verify's versions: ListSecrets ------------------------------------------------------------


def _verify_calls(
    aws_six: AwsSix, provider: AwsProvider, listing: bool | None
) -> tuple[Any, list[str]]:
    from ivsecrets.verification import verify

    if listing is not None:  # False: one DescribeSecret per secret, as before ListSecrets
        provider._can_list = listing
    calls = count_calls(provider)
    secrets = ivsecrets.Secrets(aws_six.config, providers={"aws": provider})
    report = verify(aws_six.config, secrets=secrets, intercom=None)
    return report.as_dict()["environments"], calls


def test_verify_lists_versions_in_one_call_and_reports_the_same(
    aws_six: AwsSix, aws_client: Any
) -> None:
    pending = aws_six.references[IOS_PROD]
    aws_client.put_secret_value(
        SecretId=pending, SecretString=SECRET_B, VersionStages=["AWSPENDING"]
    )
    before, old_calls = _verify_calls(aws_six, admin(aws_six), listing=False)
    after, new_calls = _verify_calls(aws_six, admin(aws_six), listing=True)
    assert after == before
    # One DescribeSecret per secret before (the pending one's rotation record costs one more);
    # now one ListSecrets for the six, DescribeSecret only for the one it shows mid-rotation.
    assert old_calls.count("DescribeSecret") == 6 + 1 and "ListSecrets" not in old_calls
    assert new_calls.count("ListSecrets") == 1 and new_calls.count("DescribeSecret") == 1 + 1
    assert len(new_calls) < len(old_calls)
    assert "staged" in json.dumps(after)


def test_verify_without_list_secrets_describes_each_secret(
    aws_six: AwsSix, moto_control: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    actions = [
        "secretsmanager:GetSecretValue",
        "secretsmanager:BatchGetSecretValue",
        "secretsmanager:DescribeSecret",
    ]
    keys = iam_user(moto_control.url, "no-list", actions)
    expected, _ = _verify_calls(aws_six, admin(aws_six), listing=False)
    provider = AwsProvider(store_of(aws_six), session=aws_boto_session(**keys))
    with moto_control.iam_enforced():
        found, calls = _verify_calls(aws_six, provider, listing=True)
        assert calls.count("DescribeSecret") == 6 and calls.count("ListSecrets") == 1
        assert not provider._can_list  # not asked again
        _, calls = _verify_calls(aws_six, provider, listing=None)
        assert "ListSecrets" not in calls
    assert found == expected
    assert "secretsmanager:ListSecrets" in caplog.text


def store_of(aws_six: AwsSix) -> StoreConfig:
    return aws_six.config.stores["aws"]


def admin(aws_six: AwsSix) -> AwsProvider:
    return AwsProvider(store_of(aws_six), session=aws_boto_session())
