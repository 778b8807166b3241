"""The FastAPI integration through Starlette's TestClient (httpx), with the app's own dependency."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI, Form, Header, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.testclient import TestClient
from jinja2 import DictLoader, Environment
from starlette.middleware.sessions import SessionMiddleware
from starlette.templating import Jinja2Templates

from ivsecrets.errors import ConfigError
from ivsecrets.integrations.fastapi import Intercom, MessengerTag, PrivateCacheMiddleware
from ivsecrets.integrations.messenger import Messenger
from tests.integrations.conftest import PLATFORM_SECRETS, FlakyStore
from tests.integrations.contract import (
    EMAIL_ONLY,
    NONCE,
    RESERVED,
    IntegrationContract,
    MakeWeb,
    Resp,
    Web,
    hmac_hex,
)

PAGE = "<!doctype html><html><body><h1>FastAPI</h1>{{ intercom_messenger() }}</body></html>"
LOADER = "http://127.0.0.1:9/intercom-stub.js?app={app_id}"


def optional_user(request: Request) -> dict[str, Any] | None:
    """The app's dependency: the logged-in user from the session, or None."""
    name = request.session.get("demo_user")
    if name is None:
        return None
    if name == EMAIL_ONLY:
        return {"email": "ada@example.com"}
    if name == RESERVED:
        return {"user_id": "42", "user_hash": "mine"}
    return {
        "user_id": "42",
        "email": "ada@example.com",
        "name": name,
        "plan": "pro",
        "created_at": 1_700_000_000,
    }


def build_app(**options: Any) -> tuple[FastAPI, Intercom]:
    intercom = Intercom(
        current_user=optional_user, messenger=Messenger(loader_url=LOADER, **options)
    )
    app = FastAPI(lifespan=intercom.lifespan, dependencies=[Depends(intercom.dependency)])
    templates = Jinja2Templates(
        env=Environment(loader=DictLoader({"page.html": PAGE}), autoescape=True),
        context_processors=[intercom.context_processor],
    )
    app.include_router(intercom.router(prefix="/api"))

    @app.middleware("http")
    async def nonce(request: Request, call_next: Any) -> Any:
        request.state.csp_nonce = NONCE
        return await call_next(request)

    app.add_middleware(SessionMiddleware, secret_key="test-only-session-key")
    app.add_middleware(PrivateCacheMiddleware)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "page.html")

    @app.post("/login")
    def login(request: Request, name: str = Form()) -> str:
        request.session["demo_user"] = name
        return "ok"

    @app.post("/logout")
    def logout(request: Request) -> Any:
        request.session.pop("demo_user", None)
        return intercom.logout(request, PlainTextResponse("bye"))

    return app, intercom


class FastAPIWeb(Web):
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.client = TestClient(app)

    def fresh(self) -> Web:
        return FastAPIWeb(self.app)

    def request(self, method: str, path: str, **kw: Any) -> Resp:
        r = self.client.request(
            method,
            path,
            params=kw.get("query"),
            headers=kw.get("headers"),
            data=kw.get("form"),
            content=kw.get("body"),
        )
        headers = {k.lower(): v for k, v in r.headers.items()}
        return Resp(r.status_code, headers, r.text, r.headers.get_list("set-cookie"))


class TestFastAPI(IntegrationContract):
    @pytest.fixture
    def make_web(self) -> MakeWeb:
        return lambda **options: FastAPIWeb(build_app(**options)[0])


def test_startup_check_refuses_to_start_without_an_app_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _ = build_app()
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    monkeypatch.delenv("IVSECRETS_APP_ID_TEST")
    with pytest.raises(ConfigError, match="IVSECRETS_APP_ID_TEST"), TestClient(app):
        pass


def test_the_dependency_gives_the_settings_for_single_page_apps() -> None:
    app, intercom = build_app(mode="user_hash")

    @app.get("/settings")
    def settings(tag: MessengerTag = Depends(intercom.dependency)) -> dict[str, Any]:
        return tag.settings()

    client = TestClient(app)
    assert client.get("/settings").json() == {"app_id": "abc12def"}
    client.post("/login", data={"name": "Ada"})
    assert client.get("/settings").json()["user_id"] == "42"


def test_a_template_without_the_dependency_renders_no_messenger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    intercom = Intercom(current_user=optional_user, messenger=Messenger(loader_url=LOADER))
    app = FastAPI()
    templates = Jinja2Templates(
        env=Environment(loader=DictLoader({"page.html": PAGE}), autoescape=True),
        context_processors=[intercom.context_processor],
    )

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "page.html")

    assert "intercomSettings" not in TestClient(app).get("/").text
    assert "Depends(intercom.dependency)" in caplog.text


def test_startup_warns_but_starts_when_the_store_is_unreachable(
    flaky: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = build_app()
    flaky.break_past_max_stale()
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    assert "ivsecrets.E003" in caplog.text and "cannot be read" in caplog.text


API_TOKEN = "api-token-7c1d"


def bearer_user(authorization: str | None = Header(None)) -> dict[str, Any] | None:
    """The API's own dependency: the user of a bearer token, or None."""
    if authorization != f"Bearer {API_TOKEN}":
        return None
    return {"user_id": "42", "email": "ada@example.com"}


def test_the_identity_router_takes_the_apis_own_authentication() -> None:
    app, intercom = build_app()
    app.include_router(intercom.router(prefix="/mobile", current_user=bearer_user))
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    resp = client.get("/mobile/intercom/identity/ios", headers=headers)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    assert resp.json()["user_hash"] == hmac_hex(PLATFORM_SECRETS["ios"], "42")
    assert client.get("/mobile/intercom/identity/ios").status_code == 401
    assert client.get("/api/intercom/identity/ios", headers=headers).status_code == 401
