"""A moto server on a free loopback port for the benchmarks, with dummy credentials."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

REGION = "us-east-1"


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    """Start ThreadedMotoServer, point boto3's environment at it, yield its URL, stop it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
    )
    try:
        yield endpoint
    finally:
        server.stop()
