"""Shared by the example apps' tests: the embedded default with the test secrets, and a scan of
every response, page and log line for secret values."""

from __future__ import annotations

import hmac
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import ivsecrets
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C
from ivsecrets.testing.logs import recorded_log_lines

# The apps themselves are imported by their tests, not collected as doctest modules.
collect_ignore_glob = ["*/ivsdemo_*", "*/manage.py", "*/run.py"]

STUB = Path(__file__).with_name("intercom-stub.js")
APP_ID = "demo1234"
PLATFORM_SECRETS = {"web": SECRET_A, "ios": SECRET_B, "android": SECRET_C}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in PLATFORM_SECRETS.values():
            assert secret not in text, "a secret value reached a response, page or log"


def scan_response(headers: Mapping[str, str], body: str) -> None:
    assert_no_secret(body, *(f"{k}: {v}" for k, v in headers.items()))


@pytest.fixture
def scan() -> Callable[[Mapping[str, str], str], None]:
    """``scan(headers, body)`` fails the test if a secret is in either."""
    return scan_response


@pytest.fixture
def platform_secrets() -> dict[str, str]:
    return dict(PLATFORM_SECRETS)


@pytest.fixture(autouse=True)
def embedded_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The documented setup: no config file, secrets and app id in environment variables."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    for platform, secret in PLATFORM_SECRETS.items():
        monkeypatch.setenv(f"IVSECRETS_{platform.upper()}_TEST", secret)
    monkeypatch.setenv("IVSECRETS_WORKSPACE", "test")
    monkeypatch.setenv("IVSECRETS_APP_ID_TEST", APP_ID)
    ivsecrets.configure(None)
    yield
    ivsecrets.configure(None)


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[None]:
    with recorded_log_lines() as lines:
        yield
    assert_no_secret(*lines)


# -- the real browser ----------------------------------------------------------------------

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW_TO_RUN = (
    "apt-get install -y chromium (or set IVSECRETS_CHROMIUM=/path/to/chromium), then make test"
)


def _chromium() -> str | None:
    found = os.environ.get("IVSECRETS_CHROMIUM") or shutil.which("chromium")
    return found if found and os.access(found, os.X_OK) else None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (the Debian package; Playwright downloads none).

    Playwright starts it with a fresh temporary profile (its own --user-data-dir) each launch.
    """
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        pytest.skip(f"the browser test did not run: no chromium found ({HOW_TO_RUN})")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=BROWSER_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """``serve(app)`` runs a WSGI app (werkzeug), ``serve(app, asgi=True)`` an ASGI app (uvicorn),
    on 127.0.0.1 in a
    thread and returns its base URL; everything is stopped after the test."""
    stops: list[Callable[[], None]] = []

    def start(app: Any, *, asgi: bool = False) -> str:
        if asgi:
            import uvicorn

            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            deadline = time.monotonic() + 10
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.02)
            assert server.started, "uvicorn did not start"

            def stop_asgi() -> None:
                server.should_exit = True
                thread.join(10)
                sock.close()

            stops.append(stop_asgi)
            return f"http://127.0.0.1:{sock.getsockname()[1]}"
        from werkzeug.serving import make_server

        wsgi = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=wsgi.serve_forever, daemon=True)
        thread.start()

        def stop_wsgi() -> None:
            wsgi.shutdown()
            thread.join(10)

        stops.append(stop_wsgi)
        return f"http://127.0.0.1:{wsgi.server_port}"

    yield start
    for stop in reversed(stops):
        stop()


XSS_NAME = "</script><script>window.pwned=1</script>"


@pytest.fixture
def browser_check(chromium: Any) -> Callable[[Callable[[str], str]], None]:
    """Log in through the real login form and read what the Messenger (the stub) received.

    ``start(mode)`` serves the example app with the Messenger in ``mode`` and returns its URL.
    Only 127.0.0.1 is reachable from the page: every other request is aborted.
    """
    import jwt

    def visit(page: Any, url: str) -> dict[str, Any]:
        page.goto(url)
        assert page.evaluate("typeof window.pwned") == "undefined", "a user field ran as script"
        page.wait_for_function("window.__intercomStub !== undefined", timeout=10_000)
        received: dict[str, Any] = page.evaluate("window.__intercomStub")
        assert received["settings"] == page.evaluate("window.intercomSettings")
        assert_no_secret(page.content(), json.dumps(received))
        return received

    def log_in(page: Any, base: str, name: str) -> None:
        page.goto(base + "/login")
        page.fill("input[name=password]", "lovelace")
        page.fill("input[name=name]", name)
        with page.expect_navigation():
            page.click("button")

    def check(start: Callable[[str], str]) -> None:
        base = start("jwt")
        context = chromium.new_context()
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(base) else route.abort()
            ),
        )
        page = context.new_page()
        anonymous = visit(page, base + "/")
        assert anonymous["settings"] == {"app_id": APP_ID}
        assert anonymous["src"] == base + "/_demo/intercom-stub.js"
        log_in(page, base, "Ada Lovelace")
        settings = visit(page, base + "/")["settings"]
        claims = jwt.decode(settings.pop("intercom_user_jwt"), SECRET_A, ["HS256"])
        assert claims["user_id"] == "42" and claims["email"] == "ada@example.com"
        assert claims["name"] == "Ada Lovelace" and claims["exp"] > time.time()
        assert "email" not in settings and "user_id" not in settings
        with page.expect_navigation():
            page.click("text=Log out")
        after = visit(page, base + "/")  # the page after logout
        assert after["settings"] == {"app_id": APP_ID}
        context.close()

        base = start("user_hash")
        context = chromium.new_context()
        page = context.new_page()
        log_in(page, base, XSS_NAME)
        received = visit(page, base + "/")
        settings = received["settings"]
        assert settings["name"] == XSS_NAME  # shown as data, never run
        assert settings["user_hash"] == hmac.new(SECRET_A.encode(), b"42", "sha256").hexdigest()
        context.close()
        anonymous_again = chromium.new_context()
        assert visit(anonymous_again.new_page(), base + "/")["settings"] == {"app_id": APP_ID}
        anonymous_again.close()

    return check
