"""What every framework integration must do, run through that framework's own test client.

A framework's test module subclasses :class:`IntegrationContract` and provides ``make_web``: a
function ``make_web(**options) -> Web`` that builds the framework's test app (``options`` are
Messenger settings: mode, signed_user_fields, expires_in) and wraps its test client. Every test
app has the same routes: ``GET /`` (a page with the Messenger), ``POST /login`` (form field
``name``; logs in user 42, ada@example.com, plan "pro"; the name :data:`EMAIL_ONLY` makes the
user-data function return no user_id, :data:`RESERVED` one that returns a ``user_hash``),
``POST /logout``, and the identity endpoint under ``/api``. It gives every request the CSP
nonce :data:`NONCE`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest

from ivsecrets.integrations import messenger as messenger_module
from tests.integrations.conftest import APP_ID, PLATFORM_SECRETS, FlakyStore, scan_response

NONCE = "n0nce-t3st"
EMAIL_ONLY = "email-only"
RESERVED = "reserved-key"
XSS_NAME = "</script><script>window.pwned=1</script>"
_SETTINGS = re.compile(r"window\.intercomSettings = (\{.*?\});\n")


@dataclass
class Resp:
    status: int
    headers: dict[str, str]  # lower-case names
    text: str
    set_cookies: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.text)


class Web:
    """A framework's test client behind one interface; every response is scanned for secrets."""

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> Resp:
        raise NotImplementedError

    def fresh(self) -> Web:
        """Another client (its own cookies) on the same app."""
        raise NotImplementedError

    def send(self, method: str, path: str, **kwargs: Any) -> Resp:
        resp = self.request(method, path, **kwargs)
        scan_response(resp.headers, resp.text + "".join(resp.set_cookies))
        return resp

    def get(self, path: str, **kwargs: Any) -> Resp:
        return self.send("GET", path, **kwargs)

    def login(self, name: str = "Ada Lovelace") -> None:
        assert self.send("POST", "/login", form={"name": name}).status in (200, 302, 303)

    def logout(self) -> Resp:
        return self.send("POST", "/logout", form={})


MakeWeb = Callable[..., Web]


def settings_of(page: str) -> dict[str, Any] | None:
    """``window.intercomSettings`` as the page sets it (None: no Messenger on the page)."""
    found = _SETTINGS.search(page)
    return None if found is None else json.loads(found.group(1))  # type: ignore[no-any-return]


def hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class IntegrationContract:
    """The page, the identity endpoint and logout, for one framework."""

    # -- the page --------------------------------------------------------------------------

    def test_anonymous_page_has_the_app_id_only(self, make_web: MakeWeb) -> None:
        page = make_web().get("/")
        assert page.status == 200
        assert settings_of(page.text) == {"app_id": APP_ID}

    def test_logged_in_page_carries_a_jwt_and_hides_the_signed_fields(
        self, make_web: MakeWeb
    ) -> None:
        web = make_web(expires_in=600)
        web.login()
        settings = settings_of(web.get("/").text)
        assert settings is not None
        token = settings.pop("intercom_user_jwt")
        assert settings.pop("created_at") > 1_500_000_000
        assert settings == {"app_id": APP_ID, "plan": "pro"}  # user_id, email, name are signed
        claims = jwt.decode(token, PLATFORM_SECRETS["web"], algorithms=["HS256"])
        assert claims["user_id"] == "42"
        assert claims["email"] == "ada@example.com" and claims["name"] == "Ada Lovelace"
        assert 590 <= claims["exp"] - time.time() <= 600
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, PLATFORM_SECRETS["ios"], algorithms=["HS256"])

    def test_user_hash_mode_sends_the_fields_and_the_web_hash(self, make_web: MakeWeb) -> None:
        web = make_web(mode="user_hash")
        web.login()
        settings = settings_of(web.get("/").text)
        assert settings is not None
        assert settings.pop("created_at") > 1_500_000_000
        assert settings == {
            "app_id": APP_ID,
            "user_id": "42",
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "plan": "pro",
            "user_hash": hmac_hex(PLATFORM_SECRETS["web"], "42"),
        }

    def test_signed_user_fields_are_configurable(self, make_web: MakeWeb) -> None:
        web = make_web(signed_user_fields=("email", "plan"))
        web.login()
        settings = settings_of(web.get("/").text)
        assert settings is not None
        claims = jwt.decode(
            settings.pop("intercom_user_jwt"), PLATFORM_SECRETS["web"], algorithms=["HS256"]
        )
        assert settings.keys() == {"app_id", "name", "created_at"}
        assert claims["plan"] == "pro" and "name" not in claims

    def test_an_anonymous_page_after_a_logged_in_one_carries_no_user_data(
        self, make_web: MakeWeb
    ) -> None:
        web = make_web(mode="user_hash")
        web.login()
        assert "user_hash" in web.get("/").text
        anonymous = web.fresh().get("/")
        assert settings_of(anonymous.text) == {"app_id": APP_ID}
        assert "ada@example.com" not in anonymous.text and '"42"' not in anonymous.text

    def test_loader_nonce_and_url(self, make_web: MakeWeb) -> None:
        page = make_web().get("/").text
        assert f'<script nonce="{NONCE}">' in page
        assert f'"http://127.0.0.1:9/intercom-stub.js?app={APP_ID}"' in page
        assert "if(nonce){s.nonce=nonce;}" in page

    def test_a_name_cannot_break_out_of_the_script(self, make_web: MakeWeb) -> None:
        web = make_web(mode="user_hash")
        web.login(name=XSS_NAME)
        page = web.get("/").text
        assert XSS_NAME not in page and "<script>window.pwned" not in page
        settings = settings_of(page)
        assert settings is not None and settings["name"] == XSS_NAME

    def test_page_without_the_store_leaves_the_messenger_out(
        self, make_web: MakeWeb, flaky: FlakyStore
    ) -> None:
        web = make_web()
        web.login()
        flaky.break_past_max_stale()
        page = web.get("/")
        assert page.status == 200 and settings_of(page.text) is None

    def test_logged_in_page_is_private_to_the_browser(self, make_web: MakeWeb) -> None:
        web = make_web()
        web.login()
        page = web.get("/")
        assert settings_of(page.text) is not None
        assert "private" in page.headers.get("cache-control", "")
        assert "public" not in page.headers.get("cache-control", "")

    def test_the_jwt_lasts_an_hour_by_default_and_is_renewed_on_every_page(
        self, make_web: MakeWeb, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        web = make_web()
        web.login()
        now = time.time()

        def exp_of_page() -> int:
            settings = settings_of(web.get("/").text)
            assert settings is not None
            token = settings["intercom_user_jwt"]
            claims = jwt.decode(
                token, PLATFORM_SECRETS["web"], algorithms=["HS256"], options={"verify_exp": False}
            )
            return int(claims["exp"])

        assert 3590 <= exp_of_page() - now <= 3601
        later = now + 1800  # half an hour on, the next page signs a fresh hour
        monkeypatch.setattr(messenger_module, "time", type("T", (), {"time": lambda: later}))
        assert 3590 <= exp_of_page() - later <= 3601
        body = web.get("/api/intercom/identity/ios").json()
        assert 3590 <= body["expires_at"] - later <= 3601

    @pytest.mark.parametrize("who", [EMAIL_ONLY, RESERVED])
    def test_user_data_jwt_mode_cannot_sign_leaves_the_messenger_out(
        self, make_web: MakeWeb, who: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        web = make_web()
        web.login(name=who)
        page = web.get("/")
        assert page.status == 200 and settings_of(page.text) is None
        assert "Messenger left out" in caplog.text
        resp = web.get("/api/intercom/identity/ios")
        assert resp.status == 503 and resp.headers["cache-control"] == "no-store"

    # -- logout ----------------------------------------------------------------------------

    def test_logout_clears_the_intercom_cookie_and_shuts_the_messenger_down_once(
        self, make_web: MakeWeb
    ) -> None:
        web = make_web()
        web.login()
        assert "shutdown" not in web.get("/").text
        out = web.logout()
        cleared = [c for c in out.set_cookies if c.startswith(f"intercom-session-{APP_ID}=")]
        assert cleared and re.search(r"(?i)max-age=0|expires=thu, 01 jan 1970", cleared[0])
        next_page = web.get("/").text
        assert "i('shutdown');" in next_page
        assert settings_of(next_page) == {"app_id": APP_ID}
        assert "shutdown" not in web.get("/").text

    def test_the_shutdown_survives_a_page_that_leaves_the_messenger_out(
        self, make_web: MakeWeb, flaky: FlakyStore
    ) -> None:
        web = make_web()
        web.login()
        web.get("/")
        web.logout()
        web.login(name="Bob")  # someone else on the same browser
        flaky.break_past_max_stale()
        assert settings_of(web.get("/").text) is None
        flaky.store.down = False
        flaky.clock.advance(5)
        page = web.get("/").text
        assert settings_of(page) is not None and "i('shutdown');" in page
        assert "shutdown" not in web.get("/").text

    # -- the identity endpoint -------------------------------------------------------------

    def test_identity_refuses_anonymous_requests(self, make_web: MakeWeb) -> None:
        resp = make_web().get("/api/intercom/identity/ios", query={"user_id": "42"})
        assert resp.status == 401
        assert resp.headers["cache-control"] == "no-store"
        assert "user_hash" not in resp.text and "jwt" not in resp.text

    @pytest.mark.parametrize("platform", ["web", "ios", "android"])
    def test_identity_is_signed_with_the_platforms_own_secret(
        self, make_web: MakeWeb, platform: str
    ) -> None:
        web = make_web(expires_in=300)
        web.login()
        resp = web.get(f"/api/intercom/identity/{platform}")
        assert resp.status == 200
        assert resp.headers["cache-control"] == "no-store"
        body = resp.json()
        assert set(body) == {"user_id", "email", "user_hash", "jwt", "expires_at"}
        assert body["user_id"] == "42" and body["email"] == "ada@example.com"
        assert body["user_hash"] == hmac_hex(PLATFORM_SECRETS[platform], "42")
        claims = jwt.decode(body["jwt"], PLATFORM_SECRETS[platform], algorithms=["HS256"])
        assert claims["user_id"] == "42" and claims["exp"] == body["expires_at"]
        for other, secret in PLATFORM_SECRETS.items():
            if other != platform:  # an iOS hash fails verification with the web secret, etc.
                assert body["user_hash"] != hmac_hex(secret, "42")
                with pytest.raises(jwt.InvalidSignatureError):
                    jwt.decode(body["jwt"], secret, algorithms=["HS256"])

    def test_identity_ignores_identity_in_query_body_and_headers(self, make_web: MakeWeb) -> None:
        web = make_web()
        web.login()
        forged = {"user_id": "1", "email": "root@example.com"}
        resp = web.get(
            "/api/intercom/identity/ios",
            query=forged,
            headers={"X-User-Id": "1", "X-Email": "root@example.com", "X-Forwarded-User": "1"},
            body=json.dumps(forged),
        )
        assert resp.status == 200
        body = resp.json()
        assert body["user_id"] == "42" and body["email"] == "ada@example.com"
        assert body["user_hash"] == hmac_hex(PLATFORM_SECRETS["ios"], "42")

    @pytest.mark.parametrize("platform", ["windows", "WEB", "ios2"])
    def test_identity_of_another_platform_is_404(self, make_web: MakeWeb, platform: str) -> None:
        web = make_web()
        web.login()
        resp = web.get(f"/api/intercom/identity/{platform}")
        assert resp.status == 404 and resp.headers["cache-control"] == "no-store"

    def test_identity_is_503_past_max_stale_without_detail(
        self, make_web: MakeWeb, flaky: FlakyStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        web = make_web()
        web.login()
        assert web.get("/api/intercom/identity/android").status == 200
        flaky.break_past_max_stale()
        resp = web.get("/api/intercom/identity/android")
        assert resp.status == 503 and resp.headers["cache-control"] == "no-store"
        assert resp.json() == {"error": "identity verification is temporarily unavailable"}
        assert "max_stale" in caplog.text  # the reason is logged, not sent
        flaky.store.down = False
