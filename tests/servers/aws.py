"""AWS Secrets Manager for tests: moto's server over real HTTP on 127.0.0.1, for the whole session.

Fixtures:

``moto_control``
    the running :class:`MotoServer` (``.url``, ``.stop()``, ``.start()`` on the same port,
    ``.outage()`` context manager, ``.iam_enforced()`` to make moto check IAM policies,
    ``.reset()``); ``iam_user(...)`` creates an IAM user with a policy and returns its keys;
``moto_server``
    its endpoint URL;
``moto_unpatched``
    the same server, for one test, *without* the fix of moto's default-version gap (see
    DESIGN.md): moto 5.2.5 as a user runs it when trying ivsecrets out;
``aws_client``
    an admin boto3 Secrets Manager client with dummy credentials, pointed at moto;
``aws_env``
    the process environment set up for code that builds its own boto3 client (dummy
    credentials, region, ``AWS_ENDPOINT_URL`` = moto, no shared config files);
``aws_seed``
    ``seed(value, name=None) -> name``: creates a secret through the admin client; every secret
    it created is deleted after the test. The rotation lease table exists too
    (:func:`ensure_lease_table`, created the way terraform/modules/aws creates it);
``aws_six``
    six environments seeded under the default reference names, with the README-style config
    (see :class:`AwsSix`).

Nothing here can reach real AWS: every client is given moto's endpoint and dummy credentials.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from ivsecrets.config import Config, parse_config
from ivsecrets.environments import Environment
from ivsecrets.plugins.aws import AwsProvider
from ivsecrets.plugins.aws.lease import DEFAULT_TABLE, KEY

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": REGION,
}
SIX_SECRETS = {
    Environment.of(platform, workspace): f"ivs6_{platform}_{workspace}_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4M"
    for workspace in ("test", "prod")
    for platform in ("web", "ios", "android")
}
_names = itertools.count()


class _OneRequestPerConnection(MotoRequestHandler):
    # HTTP/1.0 closes every connection after its response. With keep-alive a handler thread would
    # go on answering a client's pooled connection after shutdown(), and stop() would not be an
    # outage at all.
    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request is noise in test output


class MotoServer(ThreadedMotoServer):
    """moto's threaded server on 127.0.0.1 that can be stopped and started again on its port.

    Its data lives in moto's in-process backends, so it survives a restart.
    """

    def __init__(self, port: int = 0) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.error: BaseException | None = None

    def _server_entry(self) -> None:
        try:
            self._server = make_server(
                self._ip_address,
                self._port,
                DomainDispatcherApplication(create_backend_app),
                threaded=True,
                request_handler=_OneRequestPerConnection,
            )
        except BaseException as err:  # werkzeug calls sys.exit() when the port is taken
            self.error = err
            self._server_ready_event.set()
            return
        self._port = self._server.server_address[1]  # keep the port for a restart
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)

    def start(self) -> None:
        self.error = None
        super().start()
        if self.error is not None:
            raise RuntimeError(f"moto could not listen on port {self._port}") from self.error

    def stop(self) -> None:
        super().stop()
        if self._server is not None:
            self._server.server_close()  # ThreadedMotoServer leaves the socket open
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Stop the server for the duration of the block; it is started again on the same port."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def post(self, path: str, data: bytes = b"") -> Any:
        """POST to moto's own API (``/moto-api/...``)."""
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def reset(self) -> None:
        """Forget every secret, IAM user and key in moto (all tests share this server)."""
        self.post("/moto-api/reset")

    @contextlib.contextmanager
    def iam_enforced(self) -> Iterator[None]:
        """Make moto authenticate every request and check IAM policies, for the block.

        moto checks the action only: its Secrets Manager does not scope policies to resources,
        so a policy with ``"Resource": "*"`` is the only kind it can grant. Create the IAM users
        and keys before entering (they are free while enforcement is off).
        """
        previous = self.post("/moto-api/reset-auth", b"0")["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]
        try:
            yield
        finally:
            self.post("/moto-api/reset-auth", str(previous).encode())


def _patch_moto_default_version() -> Callable[[], None]:
    """Patch moto 5.2.5's known gap (see DESIGN.md); returns the undo function.

    When UpdateSecretVersionStage moves AWSCURRENT, moto does not update the secret's
    ``default_version_id``, so a read without a stage and BatchGetSecretValue keep returning the
    old version. Real AWS serves the new one; this makes moto do the same.
    """
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage

    @functools.wraps(original)
    def update_secret_version_stage(
        self: Any,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> tuple[str, str]:
        result = original(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].default_version_id = move_to_version_id
        return result

    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]

    def undo() -> None:
        SecretsManagerBackend.update_secret_version_stage = original  # type: ignore[method-assign]

    return undo


@pytest.fixture(scope="session")
def moto_control() -> Iterator[MotoServer]:
    """moto's Secrets Manager (and IAM) on a free 127.0.0.1 port, for the whole session."""
    undo = _patch_moto_default_version()
    AwsProvider.redact_sdk_logs()  # the admin client's bodies hold secrets too
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        undo()


@pytest.fixture
def moto_unpatched(moto_control: MotoServer) -> Iterator[MotoServer]:
    """The session's moto server with moto's own UpdateSecretVersionStage, for one test."""
    from moto.secretsmanager.models import SecretsManagerBackend

    patched = SecretsManagerBackend.update_secret_version_stage
    original = getattr(patched, "__wrapped__", patched)
    SecretsManagerBackend.update_secret_version_stage = original  # type: ignore[method-assign]
    try:
        yield moto_control
    finally:
        SecretsManagerBackend.update_secret_version_stage = patched  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def moto_server(moto_control: MotoServer) -> str:
    """The endpoint URL of the session's moto server."""
    return moto_control.url


def aws_boto_session(**credentials: str) -> boto3.session.Session:
    """A boto3 session with explicit credentials (dummy ones by default): never the user's.

    Sessions are shared per credentials, so clients after the first are built in milliseconds
    (a new session loads the service model again). Each client has its own event hooks.
    """
    return _session(tuple(sorted({**DUMMY_CREDENTIALS, **credentials}.items())))


@functools.cache
def _session(credentials: tuple[tuple[str, str], ...]) -> boto3.session.Session:
    return boto3.session.Session(**dict(credentials))


@pytest.fixture(scope="session")
def aws_client(moto_server: str) -> Any:
    """An admin Secrets Manager client for moto (dummy credentials)."""
    return aws_boto_session().client("secretsmanager", endpoint_url=moto_server)


@pytest.fixture
def aws_env(moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3's own configuration at moto, for code that builds its own client.

    Sets dummy credentials, the region (``AWS_REGION`` only) and ``AWS_ENDPOINT_URL``; hides the
    user's AWS files and profile. Returns the endpoint URL.
    """
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # AWS_REGION alone, as GitHub's OIDC action and the docs set it: botocore itself reads only
    # AWS_DEFAULT_REGION, so setting both here once hid that ivsecrets ignored AWS_REGION.
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_server


def ensure_lease_table(endpoint_url: str, name: str = DEFAULT_TABLE) -> Any:
    """Create the rotation lease table in moto unless it exists (a moto reset forgets it), as
    terraform/modules/aws does: on demand, the secret's ARN as its hash key. Returns an admin
    DynamoDB client."""
    dynamodb = aws_boto_session().client("dynamodb", endpoint_url=endpoint_url)
    try:
        dynamodb.describe_table(TableName=name)
    except dynamodb.exceptions.ResourceNotFoundException:
        with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):  # a racing test
            dynamodb.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
            )
    return dynamodb


def _force_delete(client: Any, name: str) -> None:
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.fixture
def aws_seed(aws_client: Any) -> Iterator[Callable[..., str]]:
    """``seed(value, name=None) -> name``: a new secret in moto, deleted after the test.

    ``value`` may be ``bytes`` for a SecretBinary secret.
    """
    created: list[str] = []
    ensure_lease_table(aws_client.meta.endpoint_url)

    def seed(value: str | bytes, name: str | None = None) -> str:
        name = name or f"ivsecrets-test-{next(_names)}"
        _force_delete(aws_client, name)
        kind = "SecretBinary" if isinstance(value, bytes) else "SecretString"
        aws_client.create_secret(Name=name, **{kind: value})
        created.append(name)
        return name

    yield seed
    for name in created:
        _force_delete(aws_client, name)


@dataclass(frozen=True)
class AwsSix:
    """Six environments (web/ios/android x test/prod) seeded in moto with distinct secrets."""

    config_text: str  # the README-style TOML, with endpoint_url pointing at moto
    config: Config
    provider: AwsProvider  # built from the config's store, with a dummy-credentials session
    secrets: dict[Environment, str]  # what each environment's secret is
    references: dict[Environment, str]  # the secret name each environment reads
    endpoint_url: str


def aws_config_text(endpoint_url: str, cache: str = "") -> str:
    """The README's AWS configuration, pointed at moto; ``cache`` lines go in [stores.aws.cache]."""
    text = (
        'store = "aws"\n\n'
        "[stores.aws]\n"
        'plugin = "aws"\n'
        f'region = "{REGION}"\n'
        f'endpoint_url = "{endpoint_url}"\n'
    )
    return text + (f"\n[stores.aws.cache]\n{cache}\n" if cache else "")


@pytest.fixture
def aws_six(aws_seed: Callable[..., str], aws_env: str) -> AwsSix:
    """Six environments seeded under the default names ``ivsecrets-{workspace}-{platform}``.

    ``aws_env`` is active too, so ``ivsecrets.Secrets(aws_six.config)`` works as is.
    """
    config_text = aws_config_text(aws_env)
    config = parse_config(config_text, "aws_six.toml")
    references = {env: ec.reference for env, ec in config.environments.items()}
    for env, value in SIX_SECRETS.items():
        aws_seed(value, references[env])
    store = config.stores["aws"]
    return AwsSix(
        config_text=config_text,
        config=config,
        provider=AwsProvider(store, session=aws_boto_session()),
        secrets=dict(SIX_SECRETS),
        references=references,
        endpoint_url=aws_env,
    )


def iam_user(endpoint_url: str, name: str, actions: list[str]) -> dict[str, str]:
    """Create an IAM user (``name`` + a unique suffix) allowed ``actions`` on every resource.

    Returns its keys.

    Call it before :meth:`MotoServer.iam_enforced`. The keys go to ``aws_boto_session(**keys)``.
    """
    iam = aws_boto_session().client("iam", endpoint_url=endpoint_url)
    name = f"{name}-{next(_names)}"  # IAM users outlive moto-api resets of other tests
    iam.create_user(UserName=name)
    if actions:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy)
        )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


__all__ = [
    "ACCOUNT_ID",
    "DUMMY_CREDENTIALS",
    "REGION",
    "SIX_SECRETS",
    "AwsSix",
    "MotoServer",
    "aws_boto_session",
    "aws_config_text",
    "ensure_lease_table",
    "iam_user",
]
