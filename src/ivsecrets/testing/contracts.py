"""The read and write contracts every store plugin must meet (like ``keyring.testing``).

A store's test module subclasses :class:`ProviderContract` and supplies two fixtures, both
talking to a *real* server of that store:

``provider``
    a ready :class:`~ivsecrets.provider.Provider` for the store;
``seed``
    a function ``seed(value: str) -> str`` that creates a new, uniquely named secret whose
    current value is ``value`` through the store's own admin API (not through the plugin) and
    returns the reference text the plugin reads it by.

Stores that support rotation subclass :class:`WritableProviderContract` instead. Set
``json_payloads = False`` for stores whose ``#key`` is resolved by the plugin itself rather than
by parsing a JSON document, and ``unknown_option`` to a misspelt option and the option it is
closest to (``None`` when the plugin declares no option), for a plugin found through the
``ivsecrets.providers`` entry points.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest

from ivsecrets.api import Secrets
from ivsecrets.config import load_config
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    ConcurrentRotationError,
    ConfigError,
    InvalidSecretError,
    RotationError,
    SecretNotFoundError,
)
from ivsecrets.provider import Provider, WritableProvider
from ivsecrets.secret import SecretValue, fingerprint

__all__ = [
    "ENV",
    "SECRET_A",
    "SECRET_B",
    "SECRET_C",
    "ProviderContract",
    "Seed",
    "WritableProviderContract",
]

# Values shaped like Intercom's (43 chars of base64url), and distinctive enough that a test can
# scan all output for them.
SECRET_A = "ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3"
SECRET_B = "ivsB_Kj8Wq1Ne4Lr7Tx2Vc5Hb9Md3Pf6Gs0Yu2Ao5Zq"
SECRET_C = "ivsC_Pl4Mn7Bv1Cx8Za5Sd2Fg9Hj3Kl6Qw0Er2Ty5Ui"
ENV = Environment.of("ios", "prod")

Seed = Callable[[str], str]


class ProviderContract:
    """What every store plugin must do. Subclass and provide ``provider`` and ``seed``."""

    json_payloads: ClassVar[bool] = True
    #: A misspelt option and the declared option it is closest to (None: the plugin declares no
    #: option); unset (the default) skips the check, for a store outside the entry points.
    unknown_option: ClassVar[tuple[str, str | None] | None] = None

    # -- reading ---------------------------------------------------------------------------

    def test_load_current(self, provider: Provider, seed: Seed) -> None:
        ref = seed(SECRET_A)
        secret = provider.load(ENV, ref)
        assert secret.value.reveal() == SECRET_A.encode()
        assert secret.fingerprint == fingerprint(SECRET_A)
        assert secret.environment == ENV
        assert secret.store == provider.name
        assert SECRET_A not in repr(secret)

    def test_missing_secret_is_not_found(self, provider: Provider, seed: Seed) -> None:
        ref = seed(SECRET_A)
        missing = ref.replace(ref.split("#")[0], ref.split("#")[0] + "-missing")
        with pytest.raises(SecretNotFoundError) as info:
            provider.load(ENV, missing)
        assert info.value.store == provider.name
        assert info.value.environment == ENV
        assert SECRET_A not in str(info.value)

    def test_load_many_keeps_per_environment_failures(self, provider: Provider, seed: Seed) -> None:
        web, android = Environment.of("web", "prod"), Environment.of("android", "prod")
        ref_a, ref_b = seed(SECRET_A), seed(SECRET_B)
        missing = ref_a.split("#")[0] + "-missing"
        results = provider.load_many({ENV: ref_a, web: ref_b, android: missing})
        ok_a, ok_b = results[ENV], results[web]
        assert not isinstance(ok_a, Exception) and not isinstance(ok_b, Exception)
        assert ok_a.value.reveal() == SECRET_A.encode()
        assert ok_b.value.reveal() == SECRET_B.encode()
        assert isinstance(results[android], SecretNotFoundError)

    def test_surrounding_whitespace_is_stripped_with_a_warning(
        self, provider: Provider, seed: Seed, caplog: pytest.LogCaptureFixture
    ) -> None:
        ref = seed(SECRET_A + "\n")
        with caplog.at_level(logging.WARNING, logger="ivsecrets"):
            secret = provider.load(ENV, ref)
        assert secret.value.reveal() == SECRET_A.encode()
        assert "whitespace" in caplog.text
        assert SECRET_A not in caplog.text

    def test_blank_secret_is_invalid(self, provider: Provider, seed: Seed) -> None:
        ref = seed("  \n")
        with pytest.raises(InvalidSecretError, match="empty"):
            provider.load(ENV, ref)

    def test_json_key(self, provider: Provider, seed: Seed) -> None:
        if not self.json_payloads:
            pytest.skip("this store resolves #key itself")
        ref = seed(json.dumps({"secret": SECRET_A, "other": SECRET_B}))
        assert provider.load(ENV, ref + "#secret").value.reveal() == SECRET_A.encode()
        with pytest.raises(InvalidSecretError, match="no key 'nope'") as info:
            provider.load(ENV, ref + "#nope")
        assert SECRET_A not in str(info.value) and SECRET_B not in str(info.value)

    def test_secret_values_refuse_pickling(self, provider: Provider, seed: Seed) -> None:
        secret = provider.load(ENV, seed(SECRET_A))
        with pytest.raises(TypeError):
            pickle.dumps(secret)

    # -- configuration ---------------------------------------------------------------------

    def test_unknown_option_names_the_file_the_key_and_the_closest_option(
        self, provider: Provider, tmp_path: Path
    ) -> None:
        if self.unknown_option is None:
            pytest.skip("no misspelt option given for this store (unknown_option)")
        typo, closest = self.unknown_option
        path = tmp_path / "ivsecrets.toml"
        path.write_text(f'store = "s"\n[stores.s]\nplugin = "{provider.plugin}"\n{typo} = "x"\n')
        with pytest.raises(ConfigError) as info:
            Secrets(load_config(path))  # builds the store's provider from its options
        assert info.value.file == str(path) and str(path) in str(info.value)
        assert info.value.key == f"stores.s.{typo}"
        assert f"[stores.s.{typo}]" in str(info.value)
        if closest is None:
            assert "valid options: none" in str(info.value)
        else:
            assert f"did you mean '{closest}'?" in str(info.value)


class WritableProviderContract(ProviderContract):
    """What a store that supports rotation must do on top of :class:`ProviderContract`.

    Every write is compare-and-set and idempotent, so interrupted rotations can be re-run.
    """

    # -- rotation --------------------------------------------------------------------------

    def test_staged_version_is_not_served_until_promoted(
        self, provider: WritableProvider, seed: Seed
    ) -> None:
        ref = seed(SECRET_A)
        current = provider.load(ENV, ref)
        staged = provider.stage(ref, SecretValue(SECRET_B), intercom_secret_id="ic_b")
        assert staged.fingerprint == fingerprint(SECRET_B)
        assert Stage.pending in staged.stages
        assert provider.load(ENV, ref).value.reveal() == SECRET_A.encode()
        assert provider.load(ENV, ref, Stage.pending).value.reveal() == SECRET_B.encode()
        assert staged.version is not None
        provider.promote(
            ref, pending_version=staged.version, expected_current_version=current.version
        )
        now = provider.load(ENV, ref)
        assert now.value.reveal() == SECRET_B.encode()
        assert provider.load(ENV, ref, Stage.previous).value.reveal() == SECRET_A.encode()
        with pytest.raises(SecretNotFoundError):
            provider.load(ENV, ref, Stage.pending)

    def test_stage_is_idempotent_and_refuses_a_different_pending(
        self, provider: WritableProvider, seed: Seed
    ) -> None:
        ref = seed(SECRET_A)
        first = provider.stage(ref, SecretValue(SECRET_B))
        again = provider.stage(ref, SecretValue(SECRET_B))
        assert first.version == again.version
        with pytest.raises(ConcurrentRotationError):
            provider.stage(ref, SecretValue(SECRET_C))

    def test_promote_is_compare_and_set(self, provider: WritableProvider, seed: Seed) -> None:
        ref = seed(SECRET_A)
        current = provider.load(ENV, ref)
        staged = provider.stage(ref, SecretValue(SECRET_B))
        assert staged.version is not None
        with pytest.raises(ConcurrentRotationError):
            provider.promote(
                ref,
                pending_version=staged.version,
                expected_current_version="not-the-current-version",
            )
        assert provider.load(ENV, ref).value.reveal() == SECRET_A.encode()
        provider.promote(
            ref, pending_version=staged.version, expected_current_version=current.version
        )
        # Re-running a promote that already happened (a resumed rotation) is a no-op.
        provider.promote(
            ref, pending_version=staged.version, expected_current_version=current.version
        )
        assert provider.load(ENV, ref).value.reveal() == SECRET_B.encode()
        assert provider.load(ENV, ref, Stage.previous).value.reveal() == SECRET_A.encode()

    def test_rollback_restores_previous(self, provider: WritableProvider, seed: Seed) -> None:
        ref = seed(SECRET_A)
        current = provider.load(ENV, ref)
        staged = provider.stage(ref, SecretValue(SECRET_B))
        assert staged.version is not None
        provider.promote(
            ref, pending_version=staged.version, expected_current_version=current.version
        )
        promoted = provider.load(ENV, ref)
        with pytest.raises(ConcurrentRotationError):
            provider.rollback(ref, expected_current_version="not-the-current-version")
        provider.rollback(ref, expected_current_version=str(promoted.version))
        assert provider.load(ENV, ref).value.reveal() == SECRET_A.encode()
        assert provider.load(ENV, ref, Stage.previous).value.reveal() == SECRET_B.encode()

    def test_retire_previous_stops_serving_it(self, provider: WritableProvider, seed: Seed) -> None:
        ref = seed(SECRET_A)
        current = provider.load(ENV, ref)
        staged = provider.stage(ref, SecretValue(SECRET_B))
        assert staged.version is not None
        provider.promote(
            ref, pending_version=staged.version, expected_current_version=current.version
        )
        previous = provider.load(ENV, ref, Stage.previous)
        provider.retire_previous(ref, expected_previous_version=str(previous.version))
        with pytest.raises(SecretNotFoundError):
            provider.load(ENV, ref, Stage.previous)
        assert provider.load(ENV, ref).value.reveal() == SECRET_B.encode()
        with pytest.raises(RotationError):
            provider.rollback(ref, expected_current_version=str(staged.version))

    def test_discard_pending(self, provider: WritableProvider, seed: Seed) -> None:
        ref = seed(SECRET_A)
        staged = provider.stage(ref, SecretValue(SECRET_B))
        assert staged.version is not None
        provider.discard_pending(ref, pending_version=staged.version)
        with pytest.raises(SecretNotFoundError):
            provider.load(ENV, ref, Stage.pending)
        assert provider.load(ENV, ref).value.reveal() == SECRET_A.encode()
        # A new rotation can be staged after a discard.
        provider.stage(ref, SecretValue(SECRET_C))

    def test_versions_report_stages_and_fingerprints(
        self, provider: WritableProvider, seed: Seed
    ) -> None:
        ref = seed(SECRET_A)
        current = provider.load(ENV, ref)
        staged = provider.stage(ref, SecretValue(SECRET_B), intercom_secret_id="ic_b")
        assert staged.version is not None
        provider.promote(
            ref, pending_version=staged.version, expected_current_version=current.version
        )
        provider.stage(ref, SecretValue(SECRET_C))
        by_stage = {stage: v for v in provider.versions(ENV, ref) for stage in v.stages}
        assert by_stage[Stage.current].fingerprint == fingerprint(SECRET_B)
        assert by_stage[Stage.current].intercom_secret_id == "ic_b"
        assert by_stage[Stage.previous].fingerprint == fingerprint(SECRET_A)
        assert by_stage[Stage.pending].fingerprint == fingerprint(SECRET_C)
