"""Intercom's rules and test vectors, through the public API."""

from __future__ import annotations

import jwt
import pytest

import ivsecrets
import ivsecrets.api
import ivsecrets.errors
from ivsecrets import IdentifierError, get_hasher, user_hash

VECTORS = [
    (
        "secret",
        {"user_id": "Message"},
        "aa747c502a898200f9e4fa21bac68136f886a0e27aec70ba06daf2e2a5cb5597",
    ),
    (
        "s3cre7",
        {"email": "test@intercom.io"},
        "844240a2deab99438ade8e7477aa832e22adb0e1eb1ad7754ff8d4054fb63869",
    ),
    (
        "s3cre7",
        {"user_id": "abcdef", "email": "test@intercom.io"},
        "532cd9cd6bfa49528cf2503db0743bb72456bda2cb7424d2894c5b11f6cad6cf",
    ),
    ("bar", {"user_id": "baz"}, "c8acc43edc084edb8207a50320ba4ec5d113686cf8050274a305480c98512e45"),
]


@pytest.mark.parametrize(("key", "identifiers", "expected"), VECTORS)
def test_intercom_vectors_through_get_hasher(
    monkeypatch: pytest.MonkeyPatch, key: str, identifiers: dict[str, str], expected: str
) -> None:
    monkeypatch.setenv("IVSECRETS_IOS_PROD", key)
    assert get_hasher("ios", "prod").user_hash(**identifiers) == expected
    assert user_hash(key, **identifiers) == expected
    assert get_hasher("ios", "prod").verify(expected, **identifiers)
    # Upper-case hex: the iOS and Android SDKs reject it, so verify does (issue 20, item 8).
    assert not get_hasher("ios", "prod").verify(expected.upper(), **identifiers)


def test_only_the_environment_variable_is_needed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    monkeypatch.setenv("IVSECRETS_ANDROID_TEST", "bar")
    hasher = get_hasher(ivsecrets.Platform.android, "test")
    assert hasher.user_hash(user_id="baz") == VECTORS[3][2]
    assert get_hasher("ANDROID", "Test") is hasher
    assert ivsecrets.api.default_secrets().config.source == "<embedded default>"


def test_integer_ids_hash_as_decimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD", "bar")
    hasher = get_hasher("web", "prod")
    assert hasher.user_hash(user_id=42) == hasher.user_hash(user_id="42")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"user_id": ""},
        {"email": ""},
        {"user_id": None},
        {"user_id": True},
        {"user_id": 1.5},
        {"email": 3},
    ],
)
def test_missing_or_empty_identifiers_are_errors(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, object]
) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD", "bar")
    with pytest.raises(IdentifierError):
        get_hasher("web", "prod").user_hash(**kwargs)  # type: ignore[arg-type]


def test_verify_rejects_other_secret_and_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD", "bar")
    hasher = get_hasher("web", "prod")
    assert not hasher.verify(user_hash("other", user_id="baz"), user_id="baz")
    assert not hasher.verify("", user_id="baz")
    assert not hasher.verify(None, user_id="baz")  # type: ignore[arg-type]


def test_messenger_jwt_decodes_with_the_environment_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3"
    monkeypatch.setenv("IVSECRETS_IOS_PROD", secret)
    token = get_hasher("ios", "prod").messenger_jwt(
        user_id=42, email="a@example.com", name="Ada", expires_in=300, plan="pro"
    )
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["user_id"] == "42"
    assert claims["email"] == "a@example.com"
    assert claims["name"] == "Ada"
    assert claims["plan"] == "pro"
    assert 290 < claims["exp"] - __import__("time").time() <= 300
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-secret-of-enough-length-000000000", algorithms=["HS256"])


def test_messenger_jwt_minimal_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "ivsB_Kj8Wq1Ne4Lr7Tx2Vc5Hb9Md3Pf6Gs0Yu2Ao5Zq"
    monkeypatch.setenv("IVSECRETS_WEB_TEST", secret)
    token = get_hasher("web", "test").messenger_jwt(user_id="u1")
    assert jwt.decode(token, secret, algorithms=["HS256"]) == {"user_id": "u1"}


def test_fingerprint_names_the_secret_without_revealing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_TEST", "bar")
    hasher = get_hasher("web", "test")
    assert hasher.fingerprint == ivsecrets.fingerprint("bar")
    assert hasher.fingerprint.startswith("ivfp1:") and len(hasher.fingerprint) == 22
    assert "bar" not in repr(hasher) and "bar" not in repr(hasher.secret)


def test_whitespace_is_stripped_with_warning_and_empty_is_an_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_TEST", "bar\n")
    monkeypatch.setenv("IVSECRETS_IOS_TEST", "   ")
    assert get_hasher("web", "test").user_hash(user_id="baz") == VECTORS[3][2]
    assert "whitespace" in caplog.text
    with pytest.raises(ivsecrets.errors.InvalidSecretError, match="empty"):
        get_hasher("ios", "test").user_hash(user_id="baz")


def test_unconfigured_environment_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ivsecrets.ConfigError, match="not configured"):
        get_hasher("web", "staging")
    with pytest.raises(ivsecrets.ConfigError, match="unknown platform"):
        get_hasher("windows", "prod")
    with pytest.raises(ivsecrets.errors.SecretNotFoundError, match="IVSECRETS_IOS_PROD"):
        monkeypatch.delenv("IVSECRETS_IOS_PROD", raising=False)
        get_hasher("ios", "prod").user_hash(user_id="1")


# --- inputs that must stay inside the error hierarchy (issue 10, item 23) -------------------------


@pytest.mark.parametrize("identifiers", [{"user_id": "a\ud800b"}, {"email": "\udcff@example.com"}])
def test_a_lone_surrogate_is_an_identifier_error_and_never_verifies(
    monkeypatch: pytest.MonkeyPatch, identifiers: dict[str, str]
) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD", "bar")
    hasher = get_hasher("web", "prod")
    with pytest.raises(IdentifierError, match="Unicode") as caught:
        hasher.user_hash(**identifiers)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(IdentifierError):
        user_hash("bar", **identifiers)
    assert hasher.verify("00" * 32, **identifiers) is False


def test_an_integer_too_long_for_text_is_an_identifier_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD", "bar")
    huge = 10**5000
    with pytest.raises(IdentifierError, match="4,300 digits"):
        get_hasher("web", "prod").user_hash(user_id=huge)
    with pytest.raises(IdentifierError):
        get_hasher("web", "prod").messenger_jwt(user_id=huge)
    with pytest.raises(IdentifierError):
        user_hash("bar", user_id=huge)


@pytest.mark.parametrize(
    "claim", [object(), b"bytes", {1, 2}, 10**5000], ids=["object", "bytes", "set", "huge-int"]
)
def test_a_claim_json_cannot_carry_is_an_identifier_error(
    monkeypatch: pytest.MonkeyPatch, claim: object
) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD", "ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3")
    with pytest.raises(IdentifierError, match="not JSON-serialisable") as caught:
        get_hasher("web", "prod").messenger_jwt(user_id="1", extra=claim)
    assert isinstance(caught.value, ivsecrets.errors.IVSecretsError)
    assert caught.value.__context__ is None and caught.value.__cause__ is None


# --- the JWT is PyJWT's, signed without the key in a local (issue 10, item 18) ------------------


@pytest.mark.parametrize(
    "claims",
    [
        {"user_id": "u1"},
        {"user_id": 42, "email": "a@example.com", "name": "Ada Lovelace"},
        {"user_id": "é ü 日本", "name": "\u2603", "plan": {"tier": "pro", "seats": [1, 2.5, None]}},
        {"user_id": "7", "exp": __import__("datetime").datetime(2030, 1, 2, 3, 4, 5), "iat": 1},
        {"user_id": "x" * 2000, "flag": True, "nothing": None},
    ],
)
def test_messenger_jwt_is_the_token_pyjwt_makes(
    monkeypatch: pytest.MonkeyPatch, claims: dict[str, object]
) -> None:
    secret = "ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3"
    monkeypatch.setenv("IVSECRETS_IOS_PROD", secret)
    token = get_hasher("ios", "prod").messenger_jwt(**claims)  # type: ignore[arg-type]
    expected = dict(claims, user_id=str(claims["user_id"]))
    assert token == jwt.encode(expected, secret, algorithm="HS256")
    decoded = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
    assert decoded["user_id"] == str(claims["user_id"])


def test_the_hot_path_keeps_every_identifier_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 21 item 6: user_hash checks and encodes a str user_id in one call (str.encode) before
    # the general rules; everything else still goes through identifier().
    monkeypatch.setenv("IVSECRETS_WEB_PROD", "bar")
    hasher = get_hasher("web", "prod")
    expected = user_hash("bar", user_id="baz")

    class Name(str):
        pass

    class Encodes:
        def encode(self) -> bytes:
            return b"baz"

    assert hasher.user_hash(user_id="baz", email="x@example.com") == expected
    assert hasher.user_hash("baz") == hasher.user_hash(user_id=Name("baz")) == expected
    assert hasher.user_hash(user_id=42) == user_hash("bar", user_id="42")
    assert hasher.user_hash(email="baz") == expected
    for bad in (
        {"user_id": "", "email": "a@example.com"},
        {"user_id": Encodes()},
        {"user_id": b"baz"},
    ):
        with pytest.raises(IdentifierError) as caught:
            hasher.user_hash(**bad)  # type: ignore[arg-type]
        assert caught.value.__context__ is None, "no TypeError from the fast path leaks"
