"""The ``aws-agent`` store: a node's AWS Secrets Manager Agent or Lambda extension (read-only).

The AWS Secrets Manager Agent (EC2, ECS and EKS sidecars, Lambda) and the AWS Parameters and
Secrets Lambda Extension serve ``GetSecretValue`` answers over HTTP on localhost (port 2773 by
default) from a cache they share between every process of the node: a fleet's load on Secrets
Manager then depends on its nodes, not on its processes. No SDK is needed (``urllib``).

Reference: a secret name or ARN, optionally ``#key`` of a JSON secret string, as for ``aws``.
Stages: ``versionStage=AWSCURRENT | AWSPREVIOUS | AWSPENDING``; a version by ``versionId``.

The SSRF token sent in ``X-Aws-Parameters-Secrets-Token`` is, first found: the ``token_file``
option; ``$AWS_TOKEN`` (a token, or ``file:///path`` naming the token file, as the agent reads
it); the file the agent's install script writes, ``/var/run/awssmatoken``; ``$AWS_SESSION_TOKEN``
(what the Lambda extension and the agent in Lambda expect); ``$AWS_CONTAINER_AUTHORIZATION_TOKEN``
(Lambda SnapStart). It is read on every request (the agent rotates it on restart) and sent only
to a loopback ``endpoint``. docs/stores/aws-agent.md has the setup.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ivsecrets.config import StoreConfig, is_loopback
from ivsecrets.environments import AWS_STAGE_LABELS as LABELS
from ivsecrets.environments import Stage
from ivsecrets.error_codes import Failure, aws_failure, store_error_class
from ivsecrets.errors import (
    AccessDeniedError,
    SecretNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from ivsecrets.provider import Fetched, Option, Provider, Reference

__all__ = ["DEFAULT_ENDPOINT", "DEFAULT_TOKEN_FILE", "TOKEN_HEADER", "AwsAgentProvider"]

DEFAULT_ENDPOINT = "http://localhost:2773"
DEFAULT_TOKEN_FILE = "/var/run/awssmatoken"
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"


class AwsAgentProvider(Provider):
    """Reads secrets from the node's Secrets Manager Agent or Lambda extension. Thread-safe."""

    plugin = "aws-agent"
    # The same secrets as the aws store's, read through the agent.
    default_reference = "ivsecrets-{workspace}-{platform}"
    options = {
        "endpoint": Option(
            str, DEFAULT_ENDPOINT, "the agent's URL (loopback only)", '"http://localhost:2773"'
        ),
        "token_file": Option(
            str, "", "file holding the SSRF token (else AWS_TOKEN, ...)", '"/var/run/awssmatoken"'
        ),
        "timeout": Option(
            float, 3.0, "seconds per request", "3", minimum=0, exclusive_minimum=True
        ),
    }

    def __init__(self, store: StoreConfig) -> None:
        super().__init__(store)
        self.endpoint: str = self.option("endpoint").rstrip("/")
        parts = urllib.parse.urlsplit(self.endpoint)
        if parts.scheme != "http" or not is_loopback(parts.hostname or ""):
            raise store.error(
                "endpoint",
                f"{self.endpoint!r} is not a loopback http:// URL; the agent listens on localhost "
                "and the SSRF token must not leave the node",
                fix=f'endpoint = "{DEFAULT_ENDPOINT}"',
            )
        self.token_file: str = self.option("token_file")
        self.timeout: float = self.option("timeout")

    def __repr__(self) -> str:
        return f"AwsAgentProvider(store={self.name!r}, endpoint={self.endpoint!r})"

    def token(self) -> str:
        """The SSRF token, from the first source that has one (see the module docstring)."""
        if self.token_file:
            return _read_token(self.token_file, "the token_file option")
        aws_token = os.environ.get("AWS_TOKEN")
        if aws_token:
            if aws_token.startswith("file://"):
                return _read_token(aws_token[len("file://") :], "AWS_TOKEN")
            return aws_token.strip()
        if os.path.exists(DEFAULT_TOKEN_FILE):
            return _read_token(DEFAULT_TOKEN_FILE, "the agent's default token file")
        for name in ("AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"):
            value = os.environ.get(name)
            if value:
                return value.strip()
        raise AccessDeniedError(
            "no SSRF token for the AWS Secrets Manager Agent: set token_file, AWS_TOKEN "
            f"(a token or file:///path), or make {DEFAULT_TOKEN_FILE} readable"
        )

    def batches_serving(self) -> bool:
        """One request per secret, and the agent reads from AWS what it is asked: a cold load
        reads only the environment asked for."""
        return False

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        query = {"secretId": ref.name}
        if version is not None:
            query["versionId"] = version
        else:
            query["versionStage"] = LABELS[stage]
        url = f"{self.endpoint}/secretsmanager/get?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers={TOKEN_HEADER: self.token()})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as err:
            raise _error(err.code, err.read()) from None
        document = json.loads(body)
        value = document.get("SecretString")
        if value is None and document.get("SecretBinary") is not None:
            import base64

            value = base64.b64decode(document["SecretBinary"])
        if value is None:
            raise SecretNotFoundError("the secret version has no value")
        labels = document.get("VersionStages") or []
        labelled = [s for s, label in LABELS.items() if label in labels]
        return Fetched(
            value=value,
            version=document.get("VersionId"),
            created_at=_created(document.get("CreatedDate")),
            stage=stage if stage in labelled or not labelled else labelled[0],
            metadata={"arn": str(document.get("ARN", "")), "name": str(document.get("Name", ""))},
        )

    def _translate(self, err: Exception) -> StoreError | None:
        if isinstance(err, (urllib.error.URLError, OSError)):
            reason = getattr(err, "reason", err)
            return StoreUnavailableError(
                f"the AWS Secrets Manager Agent at {self.endpoint} could not be reached: {reason}"
            )
        if isinstance(err, ValueError):  # not JSON: not the agent's answer
            return StoreUnavailableError(f"the agent at {self.endpoint} answered no JSON")
        return None


def _read_token(path: str, source: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise AccessDeniedError(
            f"cannot read the agent's SSRF token file {path} (from {source}): "
            f"{err.strerror or type(err).__name__}"
        ) from None


def _error(status: int, body: bytes) -> StoreError:
    """The ivsecrets error for an agent's answer: the AWS error type when it relays one, mapped
    through the same table as the ``aws`` store's errors (:mod:`ivsecrets.error_codes`)."""
    try:
        document: Any = json.loads(body)
        kind = str(document.get("__type", "")).rsplit("#", 1)[-1]
        message = str(document.get("message") or document.get("Message") or "")
    except (ValueError, AttributeError):
        kind, message = "", ""
    text = f"the AWS Secrets Manager Agent answered {status}" + (f" ({kind})" if kind else "")
    failure = aws_failure(kind, status, message)
    if failure is Failure.denied:
        text += ": check the SSRF token and the agent's IAM permissions"
    return store_error_class(failure)(text)


def _created(value: Any) -> datetime | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
