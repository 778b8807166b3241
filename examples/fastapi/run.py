"""Start the FastAPI demo: ``python examples/fastapi/run.py`` (http://127.0.0.1:8002, ada/lovelace).

On the embedded default: the secrets come from IVSECRETS_WEB_TEST, IVSECRETS_IOS_TEST and
IVSECRETS_ANDROID_TEST, the app id from IVSECRETS_APP_ID_TEST. Whatever is not set is filled with
throwaway demo values, so the one command works on a fresh checkout. The app refuses to start
when the ivsecrets check fails (no app id, unreadable web secret).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ivsdemo_fastapi import create_app


def demo_environment() -> None:
    os.environ.setdefault("IVSECRETS_WORKSPACE", "test")
    os.environ.setdefault("IVSECRETS_APP_ID_TEST", "demo1234")
    for platform in ("WEB", "IOS", "ANDROID"):
        if f"IVSECRETS_{platform}_TEST" not in os.environ:
            os.environ[f"IVSECRETS_{platform}_TEST"] = secrets.token_urlsafe(32)
            print(f"IVSECRETS_{platform}_TEST not set: using a throwaway demo secret")


if __name__ == "__main__":
    demo_environment()
    port = int(os.environ.get("PORT", "8002"))
    print(f"FastAPI demo on http://127.0.0.1:{port}/ (log in as ada / lovelace)")
    uvicorn.run(create_app(), host="127.0.0.1", port=port)
