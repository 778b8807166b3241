"""``diagnose``: which secret and identifier produced a failing ``user_hash``?

The answer to Intercom's troubleshooting list. Every configured environment's current and previous
secret is tried with every identifier given; the first explanation that fits, in order of how
likely it is to be the cause, wins. Secrets are read straight from the stores, never printed.
"""

from __future__ import annotations

import enum
import hmac
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ivsecrets.api import Secrets
from ivsecrets.config import Config
from ivsecrets.environments import Environment, Platform, Stage
from ivsecrets.errors import ConfigError, IdentifierError, SecretNotFoundError, StoreError
from ivsecrets.hashing import user_hash
from ivsecrets.secret import Secret

__all__ = ["Cause", "Diagnosis", "diagnose"]


class Cause(str, enum.Enum):
    correct = "correct"
    other_environment = "other_environment"
    email_instead_of_user_id = "email_instead_of_user_id"
    previous_version = "previous_version"
    uppercase_hex = "uppercase_hex"
    unknown = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Diagnosis:
    cause: Cause
    message: str
    environment: Environment | None = None
    stage: Stage | None = None
    identifier: str | None = None  # "user_id" or "email": which one the hash was made from

    @property
    def exit_code(self) -> int:
        return 0 if self.cause is Cause.correct else 1


def diagnose(
    config: Config,
    platform: str | Platform,
    workspace: str,
    given_hash: str,
    *,
    user_id: str | None = None,
    email: str | None = None,
    secrets: Secrets | None = None,
) -> Diagnosis:
    """Explain what produced ``given_hash`` for the environment (platform, workspace)."""
    target = config.environment(platform, workspace).environment
    if user_id is None and email is None:
        raise IdentifierError("diagnose needs the user_id and/or email the Messenger sent")
    wanted = given_hash.strip()
    if _HEX64.fullmatch(wanted) is None:
        # Not echoed: an operator may paste the wrong thing (a secret) into this argument.
        raise ConfigError(
            f"the user_hash to diagnose is not 64 hex digits ({_describe(wanted)}): "
            "a user_hash is the hex HMAC-SHA256 of the identifier",
            key="user_hash",
            fix="pass the user_hash exactly as the backend sent it to the Messenger",
        )
    own = secrets is None
    secrets = secrets if secrets is not None else Secrets(config)
    try:
        candidates = _candidates(config, secrets)
    finally:
        if own:
            secrets.close()
    lowered = wanted.lower()
    expected_kind = "user_id" if user_id is not None else "email"
    identifiers = [(k, v) for k, v in (("user_id", user_id), ("email", email)) if v is not None]

    def matches(secret: Secret, value: str) -> bool:
        produced = user_hash(secret.value.reveal(), user_id=value)
        return hmac.compare_digest(produced, lowered)

    # Ordered from the most specific explanation to the least.
    found = [
        (env, stage, kind)
        for (env, stage), secret in candidates.items()
        for kind, value in identifiers
        if matches(secret, value)
    ]

    def first(env_ok: bool, stage: Stage, kind_ok: bool) -> tuple[Environment, Stage, str] | None:
        for env, s, kind in found:
            if (env == target) is env_ok and s is stage and (kind == expected_kind) is kind_ok:
                return env, s, kind
        return None

    mobile = target.platform is not Platform.web
    if hit := first(True, Stage.current, True):
        if mobile and wanted != lowered:
            return Diagnosis(
                Cause.uppercase_hex,
                f"the hash is right for {target} but in "
                "upper-case hex: the iOS and Android SDKs accept only lower-case; "
                "send hexdigest() as is",
                target,
                Stage.current,
                hit[2],
            )
        return Diagnosis(
            Cause.correct,
            f"the hash is correct for {target} ({expected_kind} "
            "with the current secret): if Intercom still rejects it, the Messenger "
            f"is sending another {expected_kind} than the one hashed",
            target,
            Stage.current,
            hit[2],
        )
    if hit := first(True, Stage.current, False):
        return Diagnosis(
            Cause.email_instead_of_user_id,
            "the hash was made from the email, "
            "but when a user_id is sent Intercom verifies the hash of the user_id",
            target,
            Stage.current,
            hit[2],
        )
    for stage in (Stage.current, Stage.previous):
        for kind_ok in (True, False):
            if hit := first(False, stage, kind_ok):
                version = "current" if stage is Stage.current else "previous"
                return Diagnosis(
                    Cause.other_environment,
                    f"the hash was made with the {version} "
                    f"secret of {hit[0]}, not {target}'s: the backend reads the "
                    "wrong environment's secret",
                    hit[0],
                    stage,
                    hit[2],
                )
    if hit := first(True, Stage.previous, True) or first(True, Stage.previous, False):
        return Diagnosis(
            Cause.previous_version,
            f"the hash was made with {target}'s previous "
            "secret: a stale cache or an unfinished rotation (restart or refresh the "
            "backend; finish or roll back the rotation)",
            target,
            Stage.previous,
            hit[2],
        )
    return Diagnosis(
        Cause.unknown,
        "no configured secret (current or previous) produces this "
        "hash from the identifiers given: check the identifier the backend hashed "
        "and that the backend reads this configuration",
    )


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _describe(given: str) -> str:
    """What is wrong with a would-be user_hash, without repeating it."""
    if len(given) != 64:
        return f"got {len(given)} characters"
    return "got characters other than 0-9 and a-f"


def _candidates(config: Config, secrets: Secrets) -> dict[tuple[Environment, Stage], Secret]:
    keys = [
        (env, stage) for env in config.environments for stage in (Stage.current, Stage.previous)
    ]

    def load(key: tuple[Environment, Stage]) -> Secret | None:
        env, stage = key
        ec = config.environments[env]
        try:
            return secrets.providers[ec.store].load(env, ec.reference, stage)
        except SecretNotFoundError:
            return None
        except StoreError:
            if stage is Stage.current:
                raise
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        loaded = dict(zip(keys, pool.map(load, keys), strict=True))
    return {key: secret for key, secret in loaded.items() if secret is not None}
