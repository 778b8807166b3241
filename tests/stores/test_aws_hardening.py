"""The aws store: issue 10's items 9 (unknown profile), 11 (creating a secret) and 15 (a batch
entry that is not AWSCURRENT), against moto over HTTP (fixtures: tests/servers/aws.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import ConfigError
from ivsecrets.plugins.aws import AwsProvider
from ivsecrets.secret import SecretValue
from ivsecrets.testing import SECRET_A, SECRET_B
from tests.servers.aws import MotoServer

IOS_PROD = Environment.of("ios", "prod")


def store(**options: object) -> StoreConfig:
    return StoreConfig("aws", "aws", MappingProxyType(options))


# -- item 9 ----------------------------------------------------------------------------------------


def test_an_unknown_profile_from_aws_profile_is_named_with_its_source(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    with pytest.raises(ConfigError) as info:
        AwsProvider(store()).load(IOS_PROD, "x")
    message = str(info.value)
    assert "no AWS profile named 'nosuch' (from the AWS_PROFILE environment variable)" in message
    assert "None" not in message
    assert "unset AWS_PROFILE" in message
    assert info.value.key == "stores.aws.profile"


def test_an_unknown_profile_from_the_option_is_named_with_its_source(
    aws_env: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        AwsProvider(store(profile="nosuch")).load(IOS_PROD, "x")
    assert "no AWS profile named 'nosuch' (from the profile option)" in str(info.value)
    assert str(tmp_path / "no-aws-config") in str(info.value)  # the file it looked in


# -- item 15 ---------------------------------------------------------------------------------------


def test_a_batch_entry_that_is_not_current_is_read_again_by_stage(
    moto_unpatched: MotoServer, aws_client: Any, aws_seed: Callable[..., str]
) -> None:
    ref = aws_seed(SECRET_A)
    provider = AwsProvider(store(), client=aws_client)
    current = provider.load(None, ref)
    staged = provider.stage(ref, SecretValue(SECRET_B))
    assert staged.version is not None
    provider.promote(ref, pending_version=staged.version, expected_current_version=current.version)
    # The gap this guards against: plain moto's batch read still answers the old version.
    batch = aws_client.batch_get_secret_value(SecretIdList=[ref])["SecretValues"][0]
    assert batch["VersionStages"] == ["AWSPREVIOUS"]

    loaded = provider.load_many({IOS_PROD: ref})[IOS_PROD]
    assert not isinstance(loaded, Exception)
    assert (loaded.value.reveal(), loaded.version) == (SECRET_B.encode(), staged.version)
    assert loaded.stage is Stage.current
