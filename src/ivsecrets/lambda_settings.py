"""Where the rotation Lambda (:mod:`ivsecrets.aws_lambda`) finds its settings: which environment a
secret holds (its tags, else the Lambda's variables), the grace period, and each workspace's
Intercom client, with the API token from a secret if ``IVSECRETS_INTERCOM_TOKEN_SECRET_ARN`` is
set. The variables and tags are listed in docs/stores/aws.md, "Scheduled rotation"."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ivsecrets.config import (
    CONFIG_ENV_VAR,
    CacheSettings,
    Config,
    StoreConfig,
    WorkspaceConfig,
    api_base_url,
    load_config,
)
from ivsecrets.environments import Environment, Platform
from ivsecrets.errors import ConfigError
from ivsecrets.intercom import IntercomClient
from ivsecrets.secret import SecretValue

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["TOKEN_SECRET_VAR", "LambdaSettings", "read_value"]

PLATFORM_TAG, WORKSPACE_TAG = "ivsecrets:platform", "ivsecrets:workspace"
TOKEN_SECRET_VAR = "IVSECRETS_INTERCOM_TOKEN_SECRET_ARN"


class LambdaSettings:
    """The rotation Lambda's settings. ``client()``: its Secrets Manager client; ``intercom`` and
    ``grace``: injected (tests), else from the environment and the configuration file."""

    def __init__(
        self,
        client: Callable[[], SecretsManagerClient],
        intercom: Callable[[str], IntercomClient] | None = None,
        grace: float | None = None,
    ) -> None:
        self._client, self._intercom, self._grace = client, intercom, grace
        self._config: Config | None = None

    def store_config(self) -> StoreConfig:
        """The ``aws`` store the Lambda rotates with: the lease table ``$IVSECRETS_LEASE_TABLE``,
        else the store's default."""
        table = os.environ.get("IVSECRETS_LEASE_TABLE")
        return StoreConfig("rotation-lambda", "aws", {"lease_table": table} if table else {})

    def environment(self, arn: str, tags: Mapping[str, str]) -> Environment:
        """The (platform, workspace) the secret holds: its tags, else the Lambda's variables."""
        platform = tags.get(PLATFORM_TAG) or os.environ.get("IVSECRETS_PLATFORM", "")
        workspace = tags.get(WORKSPACE_TAG) or os.environ.get("IVSECRETS_WORKSPACE", "")
        if not platform or not workspace:
            raise ConfigError(
                f"secret {arn} does not say which Intercom environment it holds",
                fix=f"tag it {PLATFORM_TAG} and {WORKSPACE_TAG} (the Terraform module does), "
                "or set IVSECRETS_PLATFORM and IVSECRETS_WORKSPACE on the Lambda",
            )
        try:
            return Environment.of(platform, workspace)
        except ValueError as err:
            raise ConfigError(f"secret {arn}: {err}") from None

    def config(self) -> Config | None:
        """The configuration file at ``$IVSECRETS_CONFIG``, if set (loaded once)."""
        if self._config is None and os.environ.get(CONFIG_ENV_VAR):
            self._config = load_config()
        return self._config

    def grace(self, env: Environment) -> float:
        """``grace``, else ``IVSECRETS_GRACE_SECONDS``, else the store's cache ttl + max_stale."""
        if self._grace is not None:
            return self._grace
        if os.environ.get("IVSECRETS_GRACE_SECONDS"):
            try:
                return float(os.environ["IVSECRETS_GRACE_SECONDS"])
            except ValueError:
                raise ConfigError("IVSECRETS_GRACE_SECONDS is not a number of seconds") from None
        config, cache = self.config(), CacheSettings()
        if config is not None and env in config.environments:
            cache = config.stores[config.environments[env].store].cache
        return cache.ttl + cache.max_stale

    def intercom(self, workspace: str) -> IntercomClient:
        """The workspace's Intercom client: injected, or from the configuration (or defaults),
        with the token from the secret ``IVSECRETS_INTERCOM_TOKEN_SECRET_ARN`` names if set."""
        if self._intercom is not None:
            return self._intercom(workspace)

        config = self.config()
        if config is None:
            region = os.environ.get("IVSECRETS_INTERCOM_REGION", "us")
            settings = WorkspaceConfig(workspace, tuple(Platform), region)
        elif workspace in config.workspace_settings:
            settings = config.workspace_settings[workspace]
        else:
            raise ConfigError(f"workspace '{workspace}' is not configured", file=config.source)
        arn = os.environ.get(TOKEN_SECRET_VAR)
        if not arn:
            return IntercomClient.from_workspace(settings)
        return IntercomClient(
            self.token(arn, workspace),
            base_url=api_base_url(settings),
            workspace=workspace,
            allow_custom_host=settings.allow_custom_intercom_host,
        )

    def token(self, arn: str, workspace: str) -> SecretValue:
        """The Intercom API token in the secret ``arn``: the whole value, or a JSON object's
        entry for ``workspace`` (one Lambda, several workspaces)."""
        token = read_value(self._client(), arn, "AWSCURRENT")
        if token is not None and token.reveal().lstrip().startswith(b"{"):
            token = _json_entry(token, workspace)
        if token is None or not token.reveal().strip():
            raise ConfigError(
                f"the secret {TOKEN_SECRET_VAR} names holds no Intercom API token for "
                f"workspace '{workspace}'",
                fix=f'store the token, or a JSON object {{"{workspace}": "<token>", ...}}',
            )
        return token


def read_value(
    client: SecretsManagerClient, secret_id: str, stage: str, version: str | None = None
) -> SecretValue | None:
    """The raw value (nothing stripped) of a stage, and version, of a secret; None if none."""
    try:
        if version is None:
            read = client.get_secret_value(SecretId=secret_id, VersionStage=stage)
        else:
            read = client.get_secret_value(
                SecretId=secret_id, VersionId=version, VersionStage=stage
            )
    except client.exceptions.ResourceNotFoundException:
        return None
    text = read.get("SecretString")
    return SecretValue(text if text is not None else read.get("SecretBinary", b""))


def _json_entry(document: SecretValue, key: str) -> SecretValue | None:
    """``document[key]`` of a JSON object secret, or None. Every workspace's token stays inside
    this frame, which has returned before the caller raises, and no decode error is chained."""
    try:
        tokens = json.loads(document.reveal())
    except ValueError:
        return None
    entry = tokens.get(key) if isinstance(tokens, dict) else None
    del tokens
    return SecretValue(entry) if isinstance(entry, str) else None
