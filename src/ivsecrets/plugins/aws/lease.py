"""The DynamoDB table that holds the ``aws`` store's rotation records (lease, journal, promotion
times), one item per secret, written with conditional writes: the AWS-native lock.

Before ivsecrets kept the record as a version of the served secret itself, and every record write
was a ``PutSecretValue``; AWS keeps versions younger than 24 hours and then refuses new ones, so a
few rotations a day blocked every write to that secret. The table keeps the lease off the secret.

An item: ``secret_arn`` (the key: the secret's full ARN from ``DescribeSecret``, so the CLI, which
names a secret by name, and the rotation Lambda, which gets its ARN, share one item), ``record``
(the record's JSON text) and ``revision`` (a number that every write increases by one: the
compare-and-set token). The first write of a secret's record is conditional on
``attribute_not_exists(secret_arn)``, every later one on ``revision = <the revision read>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from ivsecrets.error_codes import aws_failure, store_error_class
from ivsecrets.errors import (
    AccessDeniedError,
    ConfigError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.plugins.aws.errors import client_error_parts
from ivsecrets.provider import LazyClient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DEFAULT_TABLE", "KEY", "LeaseTable"]

DEFAULT_TABLE = "ivsecrets-rotation"  # the Terraform module's default name too
KEY = "secret_arn"  # the table's hash key (a string)

# DynamoDB's own throttling codes, besides the ones every AWS service answers.
_THROTTLED = ("ProvisionedThroughputExceededException", "RequestLimitExceeded")
_CONFLICT = "ConditionalCheckFailedException"


class LeaseTable:
    """Reads and writes one secret's rotation record in the lease table, compare-and-set.

    ``missing()`` builds the error for a table that does not exist (a ConfigError naming the
    option): the store's configuration is wrong, not the secret.
    """

    def __init__(
        self,
        name: str,
        client: LazyClient[DynamoDBClient],
        missing: Callable[[], ConfigError],
    ) -> None:
        self.name = name
        self._client = client
        self._missing = missing

    def read(self, key: str) -> tuple[str | None, int]:
        """The record's text (None if the secret has none yet) and its revision (0: no item)."""
        try:
            item = (
                self._client.get()
                .get_item(TableName=self.name, Key={KEY: {"S": key}}, ConsistentRead=True)
                .get("Item")
            )
        except Exception as err:  # noqa: BLE001 - translated here, naming the table
            self._raise(err, "dynamodb:GetItem")
        if not item:
            return None, 0
        return item.get("record", {}).get("S"), int(item.get("revision", {}).get("N", "0"))

    def write(self, key: str, text: str, revision: int) -> bool:
        """Write ``text`` if the item still has ``revision`` (0: if there is no item yet);
        False when another writer got there first."""
        item = {KEY: {"S": key}, "record": {"S": text}, "revision": {"N": str(revision + 1)}}
        try:
            if revision:
                self._client.get().put_item(
                    TableName=self.name,
                    Item=item,
                    ConditionExpression="revision = :read",
                    ExpressionAttributeValues={":read": {"N": str(revision)}},
                )
            else:
                self._client.get().put_item(
                    TableName=self.name,
                    Item=item,
                    ConditionExpression=f"attribute_not_exists({KEY})",
                )
        except Exception as err:  # noqa: BLE001 - translated here, as in read()
            if client_error_parts(err)[0] == _CONFLICT:
                return False
            self._raise(err, "dynamodb:PutItem")
        return True

    def _raise(self, err: Exception, action: str) -> NoReturn:
        code, _, status = client_error_parts(err)
        where = f"the lease table '{self.name}'"
        if not code:
            if _unreachable(err):
                raise StoreUnavailableError(f"DynamoDB ({where}) could not be reached: {err}")
            raise err
        if code == "ResourceNotFoundException":
            raise self._missing() from None
        failure = aws_failure(code, status)
        if code in _THROTTLED:
            raise StoreThrottledError(f"DynamoDB throttled {action} on {where} ({code})")
        error_class = store_error_class(failure)
        if issubclass(error_class, AccessDeniedError):
            raise AccessDeniedError(
                f"DynamoDB refused {action} on {where} ({code}): the rotation lease needs "
                "dynamodb:GetItem and dynamodb:PutItem on that table (docs/stores/aws.md)"
            )
        # DynamoDB's validation messages may quote the item: keep the code only.
        raise error_class(f"DynamoDB answered {code or status} to {action} on {where}")


def _unreachable(err: Exception) -> bool:
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - then err cannot come from botocore
        return False
    return isinstance(err, (bx.HTTPClientError, bx.ConnectionError))
