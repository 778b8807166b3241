"""The ``aws`` store: AWS Secrets Manager, through boto3 (``pip install 'ivsecrets[aws]'``).

Reference: a secret name or ARN, optionally ``#key`` for a key of a JSON secret string. Stages are
Secrets Manager's staging labels: AWSCURRENT, AWSPREVIOUS and AWSPENDING.

Options in ``[stores.NAME]``, all optional, are declared in ``AwsProvider.options``. A ready client
or boto3 session can be injected instead.

``load_many`` (``verify``, ``status``) costs one ``BatchGetSecretValue`` call per 20 secrets
(failures reported per secret); other stages are read with ``GetSecretValue(VersionStage=...)``,
always naming the stage. A serving process (the cache) reads as ``read_api`` says, chosen for a
fleet's quotas (docs/stores/aws.md, "Serving a fleet"): by default ``describe-then-get`` loads
each secret with one ``GetSecretValue`` and refreshes it with one ``DescribeSecret``, fetching
the value again only when AWSCURRENT moved to another version. ``verify`` reads the versions of
10 secrets per ``ListSecrets`` call (.listing). Rotation
puts the new value under AWSPENDING and promotes it with one compare-and-set
``UpdateSecretVersionStage``; the Intercom secret id of each version is kept in a secret tag
``ivsecrets:intercom:<VersionId>``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    MissingExtraError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.plugins.aws.errors import (
    client_error_parts,
    error_code,
    missing_table,
    store_error,
    unknown_profile,
)
from ivsecrets.plugins.aws.lease import DEFAULT_TABLE, LeaseTable
from ivsecrets.plugins.aws.listing import AwsVersions
from ivsecrets.plugins.aws.rotation import INTERCOM_TAG, LABELS, holder
from ivsecrets.provider import ALLOW_CUSTOM_CREDENTIALS, Fetched, Option, Reference
from ivsecrets.secret import Secret, VersionInfo

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "INTERCOM_TAG",
    "LABELS",
    "AwsProvider",
    "client_error_parts",
    "env_region",
    "store_error",
]

log = logging.getLogger("ivsecrets")

BATCH_SIZE = 20  # the most SecretIds one BatchGetSecretValue call accepts
# How a serving process reads (the ``read_api`` option); the first is the default.
READ_APIS = ("describe-then-get", "get", "batch")

# A DynamoDB table name, or a table's ARN.
TABLE_NAME = (
    r"[A-Za-z0-9_.-]{3,255}|arn:[a-z-]+:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}"
)

# Where endpoint_url and lease_endpoint_url may point without allow_custom_credentials = true
# (else loopback): AWS's endpoints, FIPS and VPC endpoints, China and dual-stack ones included.
AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")

OPTIONS: dict[str, Option] = {
    "region": Option(str, "", "AWS region (else AWS_REGION or the profile's)", '"us-east-1"'),
    "profile": Option(str, "", "named profile (else AWS_PROFILE or the default chain)", '"prod"'),
    "endpoint_url": Option(
        str,
        "",
        "another endpoint (else AWS_ENDPOINT_URL)",
        '"https://…"',
        credential="url",
        conventional=AWS_HOSTS,
    ),
    "connect_timeout": Option(float, 3.0, "seconds to connect", "3"),
    "read_timeout": Option(float, 10.0, "seconds to wait for an answer", "10"),
    "max_attempts": Option(int, 3, "attempts per call, retries included", "3", minimum=1),
    "read_api": Option(
        str,
        "describe-then-get",
        "how a serving process reads: " + " | ".join(READ_APIS),
        '"describe-then-get"',
        choices=READ_APIS,
        what="read API",
    ),
    "lease_table": Option(
        str,
        DEFAULT_TABLE,
        "DynamoDB table holding the rotation lease (terraform/modules/aws creates it)",
        f'"{DEFAULT_TABLE}"',
        pattern=TABLE_NAME,
    ),
    "lease_endpoint_url": Option(
        str,
        "",
        "the lease table's endpoint (else endpoint_url, else AWS_ENDPOINT_URL)",
        None,
        credential="url",
        conventional=AWS_HOSTS,
    ),
    "allow_custom_credentials": ALLOW_CUSTOM_CREDENTIALS,
}


def env_region() -> str | None:
    """``$AWS_REGION``, which botocore ignores (it reads ``AWS_DEFAULT_REGION`` and the profile)
    although the AWS CLI v2, the other SDKs, Lambda and GitHub's credentials action use it; as
    in the AWS CLI, it wins over both. None when unset: then botocore's own chain decides."""
    return os.environ.get("AWS_REGION") or None


class AwsProvider(AwsVersions):
    """Reads and rotates secrets in AWS Secrets Manager. Thread-safe (boto3 clients are)."""

    plugin = "aws"
    default_reference = "ivsecrets-{workspace}-{platform}"
    options = OPTIONS
    # botocore logs whole request and response bodies at DEBUG.
    sdk_loggers = ("botocore.endpoint", "botocore.parsers", "botocore.awsrequest")

    def __init__(
        self,
        store: StoreConfig,
        *,
        client: SecretsManagerClient | None = None,
        session: Session | None = None,
        dynamodb: DynamoDBClient | None = None,
    ) -> None:
        super().__init__(store)
        self.region: str | None = self.option("region") or None
        self.profile: str | None = self.option("profile") or None
        self.endpoint_url: str | None = self.option("endpoint_url") or None
        self.max_attempts: int = self.option("max_attempts")
        self.read_api: str = self.option("read_api")
        self._session = session
        self._injected = client
        self._client = self.lazy_client(self._build_client, injected=client)
        # The lease table's client: injected, else built like the Secrets Manager client (from
        # the injected client's region when there is one). See .lease.
        lease = self.lazy_client(self._build_lease_client, injected=dynamodb)
        table = self.option("lease_table")
        self.lease_table = LeaseTable(
            table, lease, lambda: missing_table(store, table, self.region)
        )
        self._batch = True  # False once the credentials proved unable to call the batch API
        self._can_describe = True  # False once they proved unable to call DescribeSecret

    @staticmethod
    def sdk_record_allowed(record: logging.LogRecord) -> bool:
        """Keep botocore's DEBUG records, but drop the arguments of those with a secret payload."""
        if record.args and any(m in record.getMessage() for m in ("SecretString", "SecretBinary")):
            record.msg = f"{record.msg} [arguments redacted by ivsecrets: a secret payload]"
            record.args = None
        return True

    def reset(self) -> None:
        """Drop the clients built here (injected clients are kept: they are the caller's)."""
        super().reset()
        self._batch = True
        self._can_describe = True

    def client(self) -> SecretsManagerClient:
        """The Secrets Manager client, built on first use from the options and AWS_* variables."""
        return self._client.get()

    def _build_client(self) -> SecretsManagerClient:
        with self._building():
            return self._boto_session().client("secretsmanager", **self._sdk_options())

    def _build_lease_client(self) -> DynamoDBClient:
        endpoint = self.option("lease_endpoint_url") or self.endpoint_url
        with self._building():
            return self._boto_session().client("dynamodb", **self._sdk_options(endpoint))

    def _boto_session(self) -> Session:
        import boto3

        return self._session or boto3.session.Session(profile_name=self.profile)

    def _sdk_options(self, endpoint_url: str | None = None) -> dict[str, Any]:
        from botocore.config import Config as BotoConfig

        injected = self._injected.meta.region_name if self._injected is not None else None
        session = self._session.region_name if self._session is not None else None
        return {
            "region_name": self.region or injected or session or env_region(),
            "endpoint_url": endpoint_url or self.endpoint_url,
            "config": BotoConfig(
                connect_timeout=self.capped(self.option("connect_timeout")),
                read_timeout=self.capped(self.option("read_timeout")),
                retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
            ),
        }

    @contextlib.contextmanager
    def _building(self) -> Iterator[None]:
        """Client construction's failures, as ivsecrets errors naming the option to fix."""
        try:
            import boto3  # noqa: F401 - only whether it is installed
            from botocore.exceptions import NoRegionError, ProfileNotFound
        except ImportError:
            raise MissingExtraError(self.plugin, "boto3", "aws") from None
        try:
            yield
        except ProfileNotFound:
            raise unknown_profile(self.store, self.profile) from None
        except NoRegionError:
            raise self.store.error(
                "region", "no AWS region configured", fix='region = "us-east-1" or AWS_REGION'
            ) from None

    # -- reading --------------------------------------------------------------------------------

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        # Always name the stage: a read without one returns moto's stale default version.
        if version is not None:
            response = self.client().get_secret_value(SecretId=ref.name, VersionId=version)
        else:
            response = self.client().get_secret_value(SecretId=ref.name, VersionStage=LABELS[stage])
        return _fetched(response, stage)

    def _fetch_current_many(
        self, refs: Sequence[Reference]
    ) -> Mapping[Reference, Fetched | Exception]:
        if not self._batch:
            return super()._fetch_current_many(refs)
        names = list(dict.fromkeys(ref.name for ref in refs))
        found: dict[str, Fetched | Exception] = {}
        for start in range(0, len(names), BATCH_SIZE):
            chunk = names[start : start + BATCH_SIZE]
            try:
                found.update(self._batch_get(chunk))
            except Exception as err:  # noqa: BLE001 - reported per reference, translated later
                if error_code(err) not in ("AccessDeniedException", "AccessDenied"):
                    found.update(dict.fromkeys(chunk, err))
                    continue
                # Policies written for GetSecretValue alone are common: keep working, one call
                # per secret, rather than fail every environment.
                log.warning(
                    "store '%s' may not call secretsmanager:BatchGetSecretValue; "
                    "loading one secret per call (grant it to load them all in one call)",
                    self.name,
                )
                self._batch = False
                return super()._fetch_current_many(refs)
        return {ref: found[ref.name] for ref in refs if ref.name in found}

    def _batch_get(self, names: list[str]) -> dict[str, Fetched | Exception]:
        response = self.client().batch_get_secret_value(SecretIdList=names)
        found: dict[str, Fetched | Exception] = {
            e.get("SecretId", ""): store_error(e.get("ErrorCode", ""), e.get("Message", ""), 400)
            for e in response.get("Errors", [])
        }
        for entry in response.get("SecretValues", []):
            arn, name = entry.get("ARN", ""), entry.get("Name", "")
            # Only an entry labelled AWSCURRENT is served as current. One without labels is a
            # retired version (moto answers the version it created first, even once two
            # rotations left it none), never the current one.
            current = LABELS[Stage.current] in entry.get("VersionStages", [])
            for wanted in names:
                if not (wanted in (arn, name) or _partial_arn(wanted, arn)):
                    continue
                if current:
                    found[wanted] = _fetched(entry, Stage.current)
                    continue
                # Not the current version (moto after a rotation; AWS in a race with a
                # promote): never serve it as current, read the version that is, by stage.
                try:
                    found[wanted] = self._fetch(Reference(wanted), Stage.current, None)
                except Exception as err:  # noqa: BLE001 - reported per reference
                    found[wanted] = err
        return found

    # -- serving a fleet (the cache's reads) ----------------------------------------------------

    def batches_serving(self) -> bool:
        """Only ``read_api = "batch"`` reads several secrets per call."""
        return self.read_api == "batch" and self._batch

    def serve_many(
        self, wanted: Mapping[Environment, str]
    ) -> dict[Environment, Secret | StoreError]:
        """Cold loads: one BatchGetSecretValue per 20 with ``read_api = "batch"``, else one
        GetSecretValue per secret (its quota is 100 times the batch API's)."""
        if self.read_api == "batch":
            return self.load_many(wanted)
        return self._each(wanted, lambda env, ref: self._fetch(ref, Stage.current, None))

    def refresh_many(
        self, wanted: Mapping[Environment, str], current: Mapping[Environment, Secret]
    ) -> dict[Environment, Secret | StoreError]:
        """Refreshes: with ``describe-then-get``, one DescribeSecret per secret and a
        GetSecretValue only for those whose AWSCURRENT version changed."""
        if self.read_api != "describe-then-get" or not self._can_describe:
            return self.serve_many(wanted)

        def read(env: Environment, ref: Reference) -> Fetched | Secret:
            known = current.get(env)
            if known is not None and self._can_describe:
                try:
                    labels, _ = self._describe(ref)
                except Exception as err:
                    if error_code(err) not in ("AccessDeniedException", "AccessDenied"):
                        raise
                    log.warning(
                        "ivsecrets: store '%s' may not call secretsmanager:DescribeSecret; "
                        "refreshing with GetSecretValue (grant it to check versions instead)",
                        self.name,
                    )
                    self._can_describe = False
                else:
                    if holder(labels, Stage.current) == known.version:
                        return known
            return self._fetch(ref, Stage.current, None)

        return self._each(wanted, read)

    def _each(
        self,
        wanted: Mapping[Environment, str],
        read: Callable[[Environment, Reference], Fetched | Secret],
    ) -> dict[Environment, Secret | StoreError]:
        """One read per environment; once the store proves unreachable or throttling, the rest
        share that failure instead of waiting out a timeout each."""
        results: dict[Environment, Secret | StoreError] = {}
        down: Exception | None = None
        for env, text in wanted.items():
            ref = Reference.parse(text)
            try:
                if down is not None:
                    raise down
                got = read(env, ref)
            except Exception as err:  # noqa: BLE001 - reported per environment
                error = self._as_store_error(err, ref, env)
                results[env] = error
                if isinstance(error, (StoreUnavailableError, StoreThrottledError)):
                    down = err
                continue
            try:
                results[env] = (
                    got if isinstance(got, Secret) else self._checked(got, ref, env, Stage.current)
                )
            except StoreError as err:
                results[env] = err
        return results

    def _stage_versions(
        self,
        environment: Environment | None,
        reference: str,
        current: Secret | None = None,
    ) -> list[VersionInfo]:
        """Every labelled version with its stages, fingerprint and recorded Intercom secret id.

        ``current``: the current secret if the caller has just loaded it (not read again)."""
        ref = Reference.parse(reference)
        try:
            labels, tags = self._describe(ref)
        except Exception as err:  # translated at the boundary
            error = self._as_store_error(err, ref, environment)
            if isinstance(error, AccessDeniedError):  # no DescribeSecret: by stage, no Intercom ids
                return super()._stage_versions(environment, reference, current)
            raise error from err
        found = []
        for version, names in labels.items():
            stages = tuple(stage for stage, label in LABELS.items() if label in names)
            if not stages:
                continue
            if current is not None and current.version == version:
                secret = current  # the caller has just read it
            else:
                try:
                    secret = self.load(environment, reference, stages[0], version)
                except SecretNotFoundError:
                    continue
            intercom_id = tags.get(INTERCOM_TAG + version)
            info = VersionInfo(version, stages, secret.fingerprint, secret.created_at, intercom_id)
            found.append(info)
        return found

    def create_hint(self, reference: str) -> str:
        """An ``aws secretsmanager create-secret`` line (the value from a file, never argv)."""
        ref = Reference.parse(reference)
        if ref.name.startswith("arn:"):
            return "create the secret this ARN names, or fix the reference"
        content = f"a JSON object with the key '{ref.key}'" if ref.key else "the secret"
        region = f" --region {self.region}" if self.region else ""
        endpoint = f" --endpoint-url {self.endpoint_url}" if self.endpoint_url else ""
        profile = f" --profile {self.profile}" if self.profile else ""
        return (
            f"create it: aws secretsmanager create-secret --name {ref.name} --secret-string "
            f"file://FILE{region}{profile}{endpoint} (FILE holds {content}), or with "
            "terraform/modules/aws; or fix the reference"
        )

    def _translate(self, err: Exception) -> StoreError | None:
        try:
            from botocore import exceptions as bx
        except ImportError:  # pragma: no cover - then err cannot come from botocore
            return None
        if isinstance(err, bx.ClientError):
            return store_error(*client_error_parts(err))
        if isinstance(err, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            return AccessDeniedError(
                "no usable AWS credentials (set a profile, AWS_* variables or a role)"
            )
        if isinstance(err, (bx.HTTPClientError, bx.ConnectionError)):
            return StoreUnavailableError(f"AWS Secrets Manager could not be reached: {err}")
        return None


def _fetched(entry: Mapping[str, Any], stage: Stage) -> Fetched:
    value = entry.get("SecretString")
    if value is None:
        value = entry.get("SecretBinary")
    if value is None:
        raise SecretNotFoundError("the secret version has no value")
    labels = entry.get("VersionStages") or []
    labelled = [s for s, label in LABELS.items() if label in labels]
    return Fetched(
        value=value,
        version=entry.get("VersionId"),
        created_at=entry.get("CreatedDate"),
        stage=stage if stage in labelled or not labelled else labelled[0],
        metadata={"arn": entry.get("ARN", ""), "name": entry.get("Name", "")},
    )


def _partial_arn(reference: str, arn: str) -> bool:
    # An ARN without the "-" and six random characters AWS appends to it names the secret too.
    return reference.startswith("arn:") and arn[:-7] == reference and arn[-7:-6] == "-"
