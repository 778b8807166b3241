"""The rotation Lambda against moto's Secrets Manager and the validated Intercom fake.

AWS's side is moto's real ``RotateSecret``: with moto's Lambda backend in its no-docker mode, it
marks rotation enabled and creates the value-less AWSPENDING version for the ClientRequestToken,
as AWS does, then "invokes" a placeholder function; the tests invoke our handler with the events
AWS would send, in AWS's order.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ivsecrets import Secrets, aws_lambda, user_hash
from ivsecrets.aws_lambda import LambdaRotation
from ivsecrets.environments import Environment
from ivsecrets.errors import AccessDeniedError, ConfigError, RotationError
from ivsecrets.intercom import IntercomClient
from ivsecrets.plugins.aws import INTERCOM_TAG
from ivsecrets.rotation import Rotator
from ivsecrets.testing import SECRET_A
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.aws import AwsSix, MotoServer, aws_boto_session, iam_user
from tests.servers.intercom import FAST_RETRY

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
#: What the Lambda's role needs on the environments' secrets and the lease table
#: (docs/stores/aws.md).
LAMBDA_ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
]


@pytest.fixture(scope="module")
def rotation_lambda(moto_control: MotoServer) -> Iterator[str]:
    """The ARN of a placeholder function in moto's Lambda, for ``RotateSecret`` to point at."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.rotate_secret

    def rotate_secret(self: Any, secret_id: str, *args: Any, **kwargs: Any) -> str:
        # moto gap: after invoking the function it points stage-less reads (and
        # BatchGetSecretValue) at the value-less pending version; AWS keeps serving AWSCURRENT.
        secret = self.secrets[secret_id]
        default = secret.default_version_id
        result: str = original(self, secret_id, *args, **kwargs)
        secret.default_version_id = default
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SecretsManagerBackend, "rotate_secret", rotate_secret)
        moto_control.post(
            "/moto-api/config", json.dumps({"lambda": {"use_docker": False}}).encode()
        )
        try:
            session = aws_boto_session()
            name = f"ivsecrets-rotation-{uuid.uuid4().hex[:8]}"
            role = session.client("iam", endpoint_url=moto_control.url).create_role(
                RoleName=name, AssumeRolePolicyDocument="{}"
            )["Role"]["Arn"]
            code = io.BytesIO()
            with zipfile.ZipFile(code, "w") as archive:
                archive.writestr("placeholder.py", "def handler(event, context): pass\n")
            function = session.client("lambda", endpoint_url=moto_control.url).create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler="placeholder.handler",
                Code={"ZipFile": code.getvalue()},
            )
            yield function["FunctionArn"]
        finally:
            moto_control.post(
                "/moto-api/config", json.dumps({"lambda": {"use_docker": True}}).encode()
            )


@dataclass
class Rig:
    six: AwsSix
    aws: Any  # admin Secrets Manager client
    intercom_api: FakeIntercomAPI
    lambda_arn: str
    name: str  # the secret being rotated: ios/prod
    original_id: str  # the Intercom id recorded for its first version
    errors: list[BaseException] = field(default_factory=list)

    def intercom_client(self, workspace: str = "prod") -> IntercomClient:
        assert workspace == "prod"
        return IntercomClient(
            self.intercom_api.token,
            base_url=self.intercom_api.base_url,
            workspace=workspace,
            retry=FAST_RETRY,
            sleep=lambda _: None,
        )

    def rotation(
        self, grace: float | None = 0.0, client: Any = None, dynamodb: Any = None
    ) -> LambdaRotation:
        return LambdaRotation(
            client=client or self.aws,
            intercom=self.intercom_client,
            grace=grace,
            dynamodb=dynamodb,
        )

    def start(self, *, immediately: bool = True) -> str:
        """What AWS does when a rotation is due: RotateSecret with a new ClientRequestToken."""
        token = str(uuid.uuid4())
        self.aws.rotate_secret(
            SecretId=self.name,
            ClientRequestToken=token,
            RotationLambdaARN=self.lambda_arn,
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=immediately,
        )
        return token

    def run(self, rotation: LambdaRotation, token: str, *steps: str) -> None:
        for step in steps:
            try:
                rotation.run({"SecretId": self.name, "ClientRequestToken": token, "Step": step})
            except Exception as err:
                self.errors.append(err)
                raise

    def rotate(self, rotation: LambdaRotation | None = None) -> str:
        token = self.start()
        self.run(rotation or self.rotation(), token, *STEPS)
        return token

    def stages(self) -> dict[str, list[str]]:
        described = self.aws.describe_secret(SecretId=self.name)
        # AWS's labels only: the rotation record's version carries ivsecrets' own label.
        found = {
            v: [x for x in s if x.startswith("AWS")]
            for v, s in described["VersionIdsToStages"].items()
        }
        return {v: s for v, s in found.items() if s}

    def tags(self) -> dict[str, str]:
        described = self.aws.describe_secret(SecretId=self.name)
        return {t["Key"]: t["Value"] for t in described.get("Tags", [])}

    def value(self, version: str) -> str:
        return str(self.aws.get_secret_value(SecretId=self.name, VersionId=version)["SecretString"])

    def live(self) -> dict[str, str]:
        """Intercom's live secrets: id -> value."""
        return {s.id: s.secret for s in self.intercom_api.state.live()}


@pytest.fixture
def rig(
    aws_six: AwsSix,
    aws_client: Any,
    aws_seed: Callable[..., str],
    intercom_api: FakeIntercomAPI,
    rotation_lambda: str,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Rig]:
    """ios/prod holds SECRET_A, an Intercom secret recorded in its tags, as the Terraform module
    and a first ``ivsecrets rotate --from-intercom`` leave it."""
    caplog.set_level(logging.DEBUG)
    original = intercom_api.state.add("Set up by hand", ios=True, secret=SECRET_A)
    name = aws_seed(SECRET_A, aws_six.references[Environment.of("ios", "prod")])
    first = next(iter(aws_client.describe_secret(SecretId=name)["VersionIdsToStages"]))
    tags = {"ivsecrets:platform": "ios", "ivsecrets:workspace": "prod"}
    tags[INTERCOM_TAG + first] = original.id
    aws_client.tag_resource(SecretId=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    rig = Rig(aws_six, aws_client, intercom_api, rotation_lambda, name, original.id)
    yield rig
    # No value (old, new, Intercom's, the API token) in any log record or exception.
    values = {
        SECRET_A,
        intercom_api.token,
        *(s.secret for s in intercom_api.state.secrets.values()),
    }
    # moto's own records are the server's side (with IAM checks on, it logs request bodies).
    records = [
        r
        for when in ("setup", "call")
        for r in caplog.get_records(when)
        if not r.name.startswith("moto.")
    ]
    texts = [f"{r.getMessage()} {r.exc_text}" for r in records]
    texts += [f"{e!s} {e!r}" for e in rig.errors]
    assert not [v for v in values for t in texts if v in t], "a secret value was logged or raised"


def hasher_secrets(rig: Rig) -> Secrets:
    return Secrets(rig.six.config, providers={"aws": rig.six.provider})


def test_four_steps_in_order_rotate_while_a_hasher_serves(rig: Rig) -> None:
    secrets = hasher_secrets(rig)
    hasher = secrets.hasher("ios", "prod")
    old_hash = hasher.user_hash(user_id="42")
    old_version = rig.aws.get_secret_value(SecretId=rig.name, VersionStage="AWSCURRENT")
    token = rig.start()
    rotation = rig.rotation()

    rig.run(rotation, token, "createSecret")
    new_id = rig.tags()[INTERCOM_TAG + token]
    assert rig.stages()[token] == ["AWSPENDING"] and rig.value(token) == rig.live()[new_id]
    created = rig.intercom_api.state.get(new_id)
    assert created is not None and created.supports_ios and not created.supports_web
    rig.run(rotation, token, "setSecret", "testSecret")
    assert rig.stages()[old_version["VersionId"]] == ["AWSCURRENT"], "nothing moves before finish"
    rig.run(rotation, token, "finishSecret")

    assert rig.stages() == {token: ["AWSCURRENT"], old_version["VersionId"]: ["AWSPREVIOUS"]}
    assert set(rig.live()) == {rig.original_id, new_id}, "the replaced secret stays live"
    assert hasher.user_hash(user_id="42") == old_hash, "served from the cache until a refresh"
    secrets.refresh()
    new_hash = hasher.user_hash(user_id="42")
    assert new_hash == user_hash(rig.live()[new_id], user_id="42") != old_hash
    assert hasher.verify(new_hash, user_id="42") and hasher.verify(old_hash, user_id="42")

    rig.run(rotation, token, *STEPS)  # AWS retrying any step changes nothing
    assert rig.stages()[token] == ["AWSCURRENT"] and rig.intercom_api.counts["create"] == 1
    secrets.close()


@pytest.mark.parametrize("fault", ["deleted-at-intercom", "whitespace", "same-as-current"])
def test_a_failing_test_secret_leaves_awscurrent_where_it_was(rig: Rig, fault: str) -> None:
    secrets = hasher_secrets(rig)
    hasher = secrets.hasher("ios", "prod")
    before = hasher.fingerprint
    current = rig.aws.get_secret_value(SecretId=rig.name, VersionStage="AWSCURRENT")["VersionId"]
    token = rig.start()
    rotation = rig.rotation()
    rig.run(rotation, token, "createSecret", "setSecret")
    if fault == "deleted-at-intercom":
        rig.intercom_api.state.delete(rig.tags()[INTERCOM_TAG + token])
    else:  # moto lets the same token take another value; AWS would refuse, but a bug might not
        bad = f" {rig.value(token)} " if fault == "whitespace" else SECRET_A
        rig.aws.put_secret_value(
            SecretId=rig.name,
            ClientRequestToken=token,
            SecretString=bad,
            VersionStages=["AWSPENDING"],
        )
    match = {"deleted-at-intercom": "does not exist", "whitespace": "whitespace"}
    with pytest.raises(RotationError, match=match.get(fault, "is its current one")):
        rig.run(rotation, token, "testSecret")
    assert rig.stages()[current] == ["AWSCURRENT"] and rig.stages()[token] == ["AWSPENDING"]
    secrets.refresh()
    assert hasher.fingerprint == before
    secrets.close()


def test_an_operator_aborts_a_failed_rotation_and_the_next_one_works(rig: Rig) -> None:
    token = rig.start()
    rotation = rig.rotation()
    rig.run(rotation, token, "createSecret")
    rig.intercom_api.state.delete(rig.tags()[INTERCOM_TAG + token])
    with pytest.raises(RotationError):
        rig.run(rotation, token, "testSecret")
    secrets = hasher_secrets(rig)
    rotator = Rotator(rig.six.config, secrets=secrets, intercom=lambda _: rig.intercom_client())
    assert rotator.state("ios", "prod").pending is not None, "ivsecrets status shows it"
    assert rotator.abort("ios", "prod").action == "aborted"
    assert "AWSPENDING" not in str(rig.stages())
    rig.rotate()
    assert rotator.state("ios", "prod").pending is None
    secrets.close()


def test_create_secret_twice_with_one_token_creates_one_intercom_secret(rig: Rig) -> None:
    token = rig.start()
    rig.run(rig.rotation(), token, "createSecret")
    value = rig.value(token)
    rig.run(rig.rotation(), token, "createSecret")
    assert rig.intercom_api.counts["create"] == 1 and rig.value(token) == value
    assert len(rig.live()) == 2  # the original and the new one


def test_a_store_failure_during_put_deletes_the_intercom_secret(
    rig: Rig, moto_control: MotoServer
) -> None:
    from botocore.exceptions import ClientError

    client = aws_boto_session().client("secretsmanager", endpoint_url=moto_control.url)

    def deny_staging(params: dict[str, Any], **_: Any) -> None:
        # Only the put of the new value fails (the rotation record's writes pass).
        if params.get("VersionStages") == ["AWSPENDING"]:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "denied"}}
            raise ClientError(error, "PutSecretValue")  # type: ignore[arg-type]

    client.meta.events.register(
        "before-parameter-build.secrets-manager.PutSecretValue", deny_staging
    )
    token = rig.start()
    with pytest.raises(AccessDeniedError):
        rig.run(rig.rotation(client=client), token, "createSecret")
    assert rig.intercom_api.counts["create"] == 1 and set(rig.live()) == {rig.original_id}
    assert "AWSPENDING" in rig.stages()[token], "AWS retries: the same token still works"
    rig.run(rig.rotation(), token, *STEPS)
    assert rig.stages()[token] == ["AWSCURRENT"] and len(rig.live()) == 2


def test_the_documented_iam_actions_are_enough(rig: Rig, moto_control: MotoServer) -> None:
    role = aws_boto_session(**iam_user(moto_control.url, "rotation-lambda", LAMBDA_ACTIONS))
    client = role.client("secretsmanager", endpoint_url=moto_control.url)
    dynamodb = role.client("dynamodb", endpoint_url=moto_control.url)
    first, second = rig.rotate(), rig.start()
    with moto_control.iam_enforced():
        rig.run(rig.rotation(client=client, dynamodb=dynamodb), second, *STEPS)
    assert rig.stages() == {second: ["AWSCURRENT"], first: ["AWSPREVIOUS"]}


def test_an_ambiguous_create_is_reconciled(rig: Rig) -> None:
    rig.intercom_api.drop_next("create", after_processing=True)  # created, answer lost
    token = rig.rotate()
    assert rig.intercom_api.counts["create"] == 2 and rig.intercom_api.counts["delete"] == 1
    assert set(rig.live()) == {rig.original_id, rig.tags()[INTERCOM_TAG + token]}


def test_an_orphan_of_a_crashed_create_secret_is_deleted(rig: Rig) -> None:
    from ivsecrets.provider import JournalEntry, RotationRecord

    token = rig.start()
    # A run that died after journaling and creating at Intercom, before storing.
    name = "ivsecrets ios prod 2026-01-01T00:00:00Z run dead0001"
    orphan = rig.intercom_api.state.add(name + " #1", ios=True)
    store = rig.rotation().store
    _, cas = store.read_record(rig.name)
    dead = RotationRecord(journal=(JournalEntry("dead0001", name, orphan.id),))
    assert store.write_record(rig.name, dead, cas)
    # Named like ours but journaled by no run: never deleted by its name alone.
    stray = rig.intercom_api.state.add("ivsecrets ios prod 2026-01-01T00:00:00Z #1", ios=True)
    other = rig.intercom_api.state.add("ivsecrets web prod 2026-01-01T00:00:00Z #1", web=True)
    rig.run(rig.rotation(), token, *STEPS)
    assert orphan.id not in rig.live() and other.id in rig.live(), "web/prod's is not ours"
    assert stray.id in rig.live()
    assert set(rig.live()) == {
        rig.original_id,
        other.id,
        stray.id,
        rig.tags()[INTERCOM_TAG + token],
    }
    assert store.read_record(rig.name)[0].journal == ()


def test_the_next_rotations_delete_what_the_previous_one_replaced(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("IVSECRETS_GRACE_SECONDS", "IVSECRETS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    original = next(iter(rig.stages()))
    secrets = hasher_secrets(rig)
    hasher = secrets.hasher("ios", "prod")
    first_hash = hasher.user_hash(user_id="7")
    one = rig.rotate()
    secrets.refresh()
    one_hash = hasher.user_hash(user_id="7")
    one_id = rig.tags()[INTERCOM_TAG + one]

    # Within the grace period (the default: ttl + max_stale) the replaced secret is kept...
    two = rig.rotate(rig.rotation(grace=None))
    assert rig.original_id in rig.live() and INTERCOM_TAG + original in rig.tags()
    secrets.refresh()
    assert hasher.verify(one_hash, user_id="7") and not hasher.verify(first_hash, user_id="7")

    # ...and the next rotation after it deletes every secret left without a label.
    three = rig.rotate(rig.rotation(grace=0))
    ids = {k[len(INTERCOM_TAG) :]: v for k, v in rig.tags().items() if k.startswith(INTERCOM_TAG)}
    assert set(rig.live()) == set(ids.values()) == {ids[two], ids[three]}
    assert one_id not in rig.live() and rig.original_id not in rig.live()
    assert rig.stages() == {three: ["AWSCURRENT"], two: ["AWSPREVIOUS"]}
    secrets.close()


def test_rotate_immediately_false_passes_the_configuration_test(rig: Rig) -> None:
    token = rig.start(immediately=False)  # moto stages a copy of the current value, like AWS
    rig.run(rig.rotation(), token, "testSecret")
    assert rig.intercom_api.counts["total"] == 0
    rig.rotate()  # the first scheduled rotation then works as usual


def test_refusals(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    rotation = rig.rotation()
    with pytest.raises(RotationError, match="not enabled"):
        rig.run(rotation, str(uuid.uuid4()), "createSecret")
    token = rig.start()
    with pytest.raises(ValueError, match="unknown rotation step"):
        rig.run(rotation, token, "dropSecret")
    with pytest.raises(RotationError, match="not part of a rotation"):
        rig.run(rotation, str(uuid.uuid4()), "createSecret")
    rig.aws.untag_resource(SecretId=rig.name, TagKeys=["ivsecrets:platform"])
    monkeypatch.delenv("IVSECRETS_PLATFORM", raising=False)
    with pytest.raises(ConfigError, match="ivsecrets:platform"):
        rig.run(rotation, token, "createSecret")
    monkeypatch.setenv("IVSECRETS_PLATFORM", "ios")  # the Lambda's variables stand in for tags
    rig.run(rotation, token, *STEPS)
    previous = next(v for v, s in rig.stages().items() if s == ["AWSPREVIOUS"])
    with pytest.raises(RotationError, match="not staged AWSPENDING"):
        rig.run(rotation, previous, "testSecret")
    assert rig.intercom_api.counts["create"] == 1


def test_handler_with_a_config_file_and_the_token_in_a_secret(
    rig: Rig,
    aws_env: str,
    aws_seed: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "ivsecrets.toml"
    config.write_text(f'[workspace.prod]\nintercom_base_url = "{rig.intercom_api.base_url}"\n')
    token_secret = aws_seed(json.dumps({"prod": rig.intercom_api.token, "test": "other"}))
    monkeypatch.setenv("IVSECRETS_CONFIG", str(config))
    monkeypatch.setenv("IVSECRETS_INTERCOM_TOKEN_SECRET_ARN", token_secret)
    monkeypatch.setenv("IVSECRETS_GRACE_SECONDS", "0")
    monkeypatch.delenv("IVSECRETS_INTERCOM_TOKEN_PROD", raising=False)
    monkeypatch.setattr(aws_lambda, "_default", None)
    level = aws_lambda.log.level
    aws_lambda.log.setLevel(logging.NOTSET)
    try:
        for _ in range(2):
            token = rig.start()
            for step in STEPS:
                event = {"SecretId": rig.name, "ClientRequestToken": token, "Step": step}
                aws_lambda.handler(event, None)
        assert aws_lambda.log.level == logging.INFO
    finally:
        aws_lambda.log.setLevel(level)
    assert rig.stages()[token] == ["AWSCURRENT"] and rig.original_id not in rig.live()
    assert rig.intercom_api.counts["create"] == 2


def test_the_lambda_clients_take_aws_region(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    rotation = LambdaRotation()
    assert rotation.client.meta.region_name == "eu-west-1"


OTHER_TOKEN = "tok_other_workspace_Zq3k9Lw2Xr7Tn5Vb8Hc1"


def test_a_missing_workspace_token_raises_with_no_token_in_any_frame(
    aws_client: Any, aws_seed: Callable[..., str]
) -> None:
    """Error reporters that capture locals must not receive the other workspaces' tokens."""
    from tests.test_no_leak_frames import captured

    arn = aws_seed(json.dumps({"test": OTHER_TOKEN}))  # (a global: this frame is scanned too)
    with pytest.raises(ConfigError) as info:
        LambdaRotation(client=aws_client).settings.token(arn, "prod")
    assert not any(OTHER_TOKEN[4:16] in text for text in captured(info.value))
