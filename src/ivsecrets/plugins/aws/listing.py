"""Version stages of many secrets in few calls: ``ListSecrets`` for ``verify`` (docs/stores/aws.md,
"How verify reads versions").

``ListSecrets`` returns the staging labels (``SecretVersionsToStages``) and tags of up to 100
secrets per page; a ``name`` filter takes up to 10 values (prefix matches, so entries are matched
to references by exact name here; ARNs are not matched and are described). Its answers are
eventually consistent (they may lag a change by minutes), so they are trusted only where they agree
with the current version just read (strongly consistent) and show no previous or pending version;
every other secret is read with ``DescribeSecret``, as without ListSecrets. The action cannot be
scoped to a resource: where a policy does not grant it, each secret is described.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import StoreError
from ivsecrets.plugins.aws.errors import error_code
from ivsecrets.plugins.aws.rotation import INTERCOM_TAG, LABELS, AwsRotation
from ivsecrets.provider import Reference
from ivsecrets.secret import Secret, VersionInfo

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = logging.getLogger("ivsecrets")

NAMES_PER_FILTER = 10  # the most values one ListSecrets filter accepts
PAGE = 100  # the most secrets one ListSecrets page returns

#: {secret name: ({VersionId: labels}, {tag key: value})}
Listed = dict[str, tuple[dict[str, list[str]], dict[str, str]]]


class AwsVersions(AwsRotation):
    """``versions_many`` through ListSecrets, falling back to DescribeSecret per secret."""

    _can_list = True  # False once the credentials proved unable to call ListSecrets

    def reset(self) -> None:
        super().reset()
        self._can_list = True

    def versions_many(
        self, wanted: Mapping[Environment, tuple[str, Secret | None]]
    ) -> dict[Environment, list[VersionInfo] | StoreError]:
        """One ListSecrets per 10 names, then DescribeSecret (``versions``) only for the secrets
        it shows mid-rotation, out of step with the current version just read, or not at all."""
        listed: Listed = {}
        if self._can_list:
            names = [Reference.parse(reference).name for reference, _ in wanted.values()]
            try:
                listed = list_stages(self.client(), names)
            except Exception as err:  # noqa: BLE001 - DescribeSecret per secret still works
                if error_code(err) in ("AccessDeniedException", "AccessDenied"):
                    log.warning(
                        "store '%s' may not call secretsmanager:ListSecrets; reading versions "
                        "with one DescribeSecret per secret (grant it to list them in one call)",
                        self.name,
                    )
                    self._can_list = False
                else:
                    log.debug("ivsecrets: ListSecrets failed, describing each secret: %s", err)
        found: dict[Environment, list[VersionInfo] | StoreError] = {}
        for env, (reference, current) in wanted.items():
            steady = _steady(listed.get(Reference.parse(reference).name), current)
            if steady is not None:
                found[env] = [steady]
        rest = {env: item for env, item in wanted.items() if env not in found}
        if rest:
            found.update(super().versions_many(rest))
        return {env: found[env] for env in wanted}


def _steady(
    entry: tuple[dict[str, list[str]], dict[str, str]] | None, current: Secret | None
) -> VersionInfo | None:
    """The current version alone, if the listed entry shows it and no other staged version."""
    if entry is None or current is None or current.version is None:
        return None
    labels, tags = entry
    staged = {v: [n for n in names if n in LABELS.values()] for v, names in labels.items()}
    if {v: names for v, names in staged.items() if names} != {
        current.version: [LABELS[Stage.current]]
    }:
        return None
    intercom_id = tags.get(INTERCOM_TAG + current.version)
    return VersionInfo(
        current.version, (Stage.current,), current.fingerprint, current.created_at, intercom_id
    )


def list_stages(client: SecretsManagerClient, names: Sequence[str]) -> Listed:
    """The labelled versions and tags of the secrets called ``names`` (not ARNs: a name filter
    does not match them), one call per 10 names (more if their prefixes match over 100)."""
    wanted = list(dict.fromkeys(n for n in names if not n.startswith("arn:")))
    found: Listed = {}
    for start in range(0, len(wanted), NAMES_PER_FILTER):
        chunk = wanted[start : start + NAMES_PER_FILTER]
        kwargs: dict[str, Any] = {"Filters": [{"Key": "name", "Values": chunk}], "MaxResults": PAGE}
        while True:
            page = client.list_secrets(**kwargs)
            for entry in page.get("SecretList", []):
                name = entry.get("Name", "")
                if name in chunk:
                    labels = entry.get("SecretVersionsToStages", {})
                    tags = {t["Key"]: t["Value"] for t in entry.get("Tags") or []}
                    found[name] = ({v: s for v, s in labels.items() if s}, tags)
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return found
