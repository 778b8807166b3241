"""The ``aws`` store keeps its rotation record (lease, journal, promotion times) in DynamoDB, off
the served secret (issue 19, item 4).

AWS keeps every version of a secret younger than 24 hours and then refuses ``PutSecretValue``;
moto does not enforce that quota, so these tests count the versions each command creates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import pytest

from ivsecrets.config import Config, StoreConfig, parse_config
from ivsecrets.environments import Environment
from ivsecrets.errors import AccessDeniedError, ConcurrentRotationError, ConfigError
from ivsecrets.intercom import IntercomClient
from ivsecrets.plugins.aws import AwsProvider
from ivsecrets.plugins.aws.rotation import RECORD_LABEL, SCRATCH_PREFIX
from ivsecrets.provider import JournalEntry, Lease, RotationRecord
from ivsecrets.rotation import Rotator
from ivsecrets.rotation.lease import LeaseHeldError, acquire_lease
from ivsecrets.secret import SecretValue
from ivsecrets.testing import SECRET_B
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.aws import (
    REGION,
    AwsSix,
    MotoServer,
    aws_boto_session,
    ensure_lease_table,
    iam_user,
)
from tests.servers.intercom import FAST_RETRY

IOS_PROD = Environment.of("ios", "prod")


@dataclass
class Lab:
    six: AwsSix
    config: Config
    aws: Any  # admin Secrets Manager client
    dynamodb: Any  # admin DynamoDB client
    intercom: FakeIntercomAPI

    @property
    def name(self) -> str:
        return self.six.references[IOS_PROD]

    def store(self) -> AwsProvider:
        return AwsProvider(self.config.stores["aws"], session=aws_boto_session())

    def rotator(self) -> Rotator:
        def intercom(workspace: str) -> IntercomClient:
            return IntercomClient.from_workspace(
                self.config.workspace_settings[workspace], retry=FAST_RETRY, sleep=lambda _: None
            )

        return Rotator(self.config, intercom=intercom, retry_delay=0.01)

    def versions(self) -> set[str]:
        """Every version of the secret, deprecated ones included (what AWS's quota counts)."""
        found: set[str] = set()
        page: dict[str, Any] = {}
        while True:
            more = {"NextToken": page["NextToken"]} if page.get("NextToken") else {}
            page = self.aws.list_secret_version_ids(
                SecretId=self.name, IncludeDeprecated=True, MaxResults=100, **more
            )
            found |= {v["VersionId"] for v in page["Versions"]}
            if not page.get("NextToken"):
                return found

    def labels(self) -> dict[str, list[str]]:
        described = self.aws.describe_secret(SecretId=self.name)
        return {v: s for v, s in described["VersionIdsToStages"].items() if s}

    def items(self) -> list[dict[str, Any]]:
        return list(self.dynamodb.scan(TableName="ivsecrets-rotation")["Items"])


@pytest.fixture
def lab(
    aws_six: AwsSix,
    aws_client: Any,
    intercom_api: FakeIntercomAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Lab]:
    extra = "".join(
        f'\n[workspace.{ws}]\nintercom_base_url = "{intercom_api.base_url}"\n'
        for ws in ("test", "prod")
    )
    config = parse_config(aws_six.config_text + extra, "aws.toml")
    for ws in ("TEST", "PROD"):
        monkeypatch.setenv(f"IVSECRETS_INTERCOM_TOKEN_{ws}", intercom_api.token)
    dynamodb = ensure_lease_table(aws_six.endpoint_url)
    for item in dynamodb.scan(TableName="ivsecrets-rotation")["Items"]:  # other tests' records
        dynamodb.delete_item(TableName="ivsecrets-rotation", Key={"secret_arn": item["secret_arn"]})
    yield Lab(aws_six, config, aws_client, dynamodb, intercom_api)


def test_a_rotate_and_finish_cycle_adds_at_most_two_versions(lab: Lab) -> None:
    rotator = lab.rotator()
    for cycle in range(3):  # the first cycle also creates the record
        before = lab.versions()
        rotated = rotator.rotate("ios", "prod", from_intercom=True)
        assert rotated.action == "rotated"
        rotator.finish("ios", "prod", grace=0)
        added = lab.versions() - before
        assert len(added) <= 2, f"cycle {cycle} added {len(added)} versions"
        assert added == {v for v, s in lab.labels().items() if "AWSCURRENT" in s}, (
            "the only new version is the staged value, now current"
        )
    (item,) = lab.items()
    assert item["secret_arn"]["S"] == lab.aws.describe_secret(SecretId=lab.name)["ARN"]
    assert int(item["revision"]["N"]) > 1 and '"lease":null' in item["record"]["S"]


def test_a_rotate_with_a_given_value_adds_one_version(lab: Lab) -> None:
    before = lab.versions()
    lab.rotator().rotate("ios", "prod", new_value=SecretValue(SECRET_B.encode()))
    assert len(lab.versions() - before) == 1


def test_refused_commands_add_no_version(lab: Lab) -> None:
    rotator = lab.rotator()
    before = lab.versions()
    rotator.finish("ios", "prod", grace=0)  # nothing to finish
    assert lab.versions() == before

    # Another run holds the lease: rotate and finish are refused before doing anything.
    now = datetime.now(timezone.utc)
    acquire_lease(lab.store(), lab.name, run="other01", action="rotate", seconds=300, now=now)
    before = lab.versions()
    with pytest.raises(ConcurrentRotationError, match="holds the lease"):
        rotator.rotate("ios", "prod", from_intercom=True)
    with pytest.raises(ConcurrentRotationError, match="holds the lease"):
        rotator.finish("ios", "prod", grace=0)
    assert lab.versions() == before
    assert lab.intercom.counts["create"] == 0


def test_the_cli_by_name_and_the_lambda_by_arn_share_one_record(lab: Lab) -> None:
    store = lab.store()
    arn = lab.aws.describe_secret(SecretId=lab.name)["ARN"]
    now = datetime.now(timezone.utc)
    acquire_lease(store, lab.name, run="byname", action="rotate", seconds=300, now=now)
    with pytest.raises(LeaseHeldError, match="byname"):
        acquire_lease(store, arn, run="byarn", action="rotate", seconds=300, now=now)
    with pytest.raises(LeaseHeldError, match="byname"):  # a partial ARN names it too
        acquire_lease(store, arn[:-7], run="byarn", action="rotate", seconds=300, now=now)
    assert len(lab.items()) == 1


def test_the_record_is_compare_and_set(lab: Lab) -> None:
    store = lab.store()
    empty, first = store.read_record(lab.name)
    assert empty == RotationRecord()
    mine = RotationRecord(journal=(JournalEntry("r1", "n1"),))
    assert store.write_record(lab.name, mine, first)
    assert not store.write_record(lab.name, RotationRecord(), first), "a stale token loses"
    again, second = store.read_record(lab.name)
    assert again == mine
    assert store.write_record(lab.name, RotationRecord(), second)
    assert not store.write_record(lab.name, mine, second)


def test_stale_labels_of_an_earlier_ivsecrets_are_swept_and_its_record_migrated(lab: Lab) -> None:
    # What an earlier ivsecrets left: its record under RECORD_LABEL, and two scratch labels of
    # writes killed before they could remove them.
    expires = datetime(2020, 1, 1, tzinfo=timezone.utc)
    legacy = RotationRecord(
        lease=Lease("dead0001", "rotate", "staged", expires),
        since={"v-old": expires},
    )
    for label, text in (
        (RECORD_LABEL, legacy.to_json()),
        (f"{SCRATCH_PREFIX}1a2b3c4d", "{}"),
        (f"{SCRATCH_PREFIX}5e6f7a8b", "{}"),
    ):
        lab.aws.put_secret_value(SecretId=lab.name, SecretString=text, VersionStages=[label])
    store = lab.store()
    record, token = store.read_record(lab.name)
    assert record == legacy, "read from the secret until the table has it"
    assert lab.items() == []
    before = lab.versions()

    # The first record write carries it into the table, then sweeps the labels.
    taken = replace(record, lease=Lease("run0002", "settle", "acquired", expires))
    assert store.write_record(lab.name, taken, token)
    assert store.read_record(lab.name)[0] == taken
    assert {label for names in lab.labels().values() for label in names} == {"AWSCURRENT"}
    (item,) = lab.items()
    assert '"v-old"' in item["record"]["S"]

    lab.rotator().rotate("ios", "prod", from_intercom=True)  # the expired lease is taken over
    assert len(lab.versions() - before) == 1
    left = {label for names in lab.labels().values() for label in names}
    assert left == {"AWSCURRENT", "AWSPREVIOUS"}


def test_scratch_labels_are_swept_by_the_next_rotate(lab: Lab) -> None:
    for suffix in ("1a2b3c4d", "5e6f7a8b"):
        lab.aws.put_secret_value(
            SecretId=lab.name, SecretString="{}", VersionStages=[SCRATCH_PREFIX + suffix]
        )
    before = lab.versions()
    lab.rotator().rotate("ios", "prod", from_intercom=True)
    assert len(lab.versions() - before) == 1
    left = {label for names in lab.labels().values() for label in names}
    assert left == {"AWSCURRENT", "AWSPREVIOUS"}


def test_a_missing_table_names_the_option_and_the_module(lab: Lab) -> None:
    text = lab.six.config_text.replace(
        'plugin = "aws"\n', 'plugin = "aws"\nlease_table = "no-such-table"\n', 1
    )
    store = AwsProvider(parse_config(text, "aws.toml").stores["aws"], session=aws_boto_session())
    with pytest.raises(ConfigError) as caught:
        store.read_record(lab.name)
    message = str(caught.value)
    assert "stores.aws.lease_table" in message and "no-such-table" in message
    assert "terraform/modules/aws" in message
    assert "not found" not in message.lower()


def test_a_bad_table_name_is_refused_with_the_option(lab: Lab) -> None:
    with pytest.raises(ConfigError, match="lease_table"):
        AwsProvider(StoreConfig("aws", "aws", {"lease_table": "a b"}), session=aws_boto_session())


def test_without_the_dynamodb_permissions_the_error_names_them(
    lab: Lab, moto_control: MotoServer
) -> None:
    keys = iam_user(
        moto_control.url,
        "rotator-without-lease",
        ["secretsmanager:DescribeSecret", "dynamodb:GetItem"],
    )
    session = aws_boto_session(**keys)
    store = AwsProvider(
        StoreConfig("aws", "aws", {"region": REGION, "endpoint_url": moto_control.url}),
        session=session,
    )
    with moto_control.iam_enforced():
        _, token = store.read_record(lab.name)
        with pytest.raises(AccessDeniedError, match="dynamodb:PutItem"):
            store.write_record(lab.name, RotationRecord(), token)
    assert lab.items() == []


def test_an_injected_client_builds_its_dynamodb_client_in_the_same_region(lab: Lab) -> None:
    # The rotation Lambda passes client=...; the lease table is reached without more wiring.
    store = AwsProvider(StoreConfig("rotation-lambda", "aws"), client=lab.aws)
    record, token = store.read_record(lab.name)
    assert record == RotationRecord()
    assert store.write_record(
        lab.name, RotationRecord(since={"v": datetime.now(timezone.utc)}), token
    )
    assert len(lab.items()) == 1
