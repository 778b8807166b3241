"""Each example in headless Chromium, served over real HTTP on 127.0.0.1.

The browser logs in through the example's own login form and reads what the Messenger (the local
loader stub) received. Skipped, with one summary line, where no chromium is installed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for _example in ("django", "flask", "fastapi"):
    if str(HERE / _example) not in sys.path:
        sys.path.insert(0, str(HERE / _example))

Serve = Callable[..., str]


@contextlib.contextmanager
def flask_demo(serve: Serve) -> Iterator[Callable[[str], str]]:
    from ivsdemo_flask import create_app

    def start(mode: str) -> str:
        app = create_app()
        app.config["IVSECRETS_INTERCOM_MODE"] = mode
        return serve(app)

    yield start


@contextlib.contextmanager
def fastapi_demo(serve: Serve) -> Iterator[Callable[[str], str]]:
    from ivsdemo_fastapi import create_app

    def start(mode: Any) -> str:
        return serve(create_app(mode), asgi=True)

    yield start


@contextlib.contextmanager
def django_demo(serve: Serve) -> Iterator[Callable[[str], str]]:
    from django.test.utils import override_settings

    from ivsdemo_django import settings as demo_settings
    from test_ivsdemo_django import demo_settings_in_force

    with contextlib.ExitStack() as stack:
        stack.enter_context(demo_settings_in_force())
        from django.core.handlers.wsgi import WSGIHandler

        def start(mode: str) -> str:
            intercom = {**demo_settings.IVSECRETS_INTERCOM, "MODE": mode}
            stack.enter_context(override_settings(IVSECRETS_INTERCOM=intercom))
            return serve(WSGIHandler())

        yield start


DEMOS = {"django": django_demo, "flask": flask_demo, "fastapi": fastapi_demo}


@pytest.mark.parametrize("example", sorted(DEMOS))
def test_example_in_a_real_browser(
    example: str, browser_check: Callable[[Callable[[str], str]], None], serve: Serve
) -> None:
    with DEMOS[example](serve) as start:
        browser_check(start)
