"""One HTTP-status table for the Intercom client and the stores (issue 18, item 7): a status means
the same kind of failure whichever adapter met it."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from ivsecrets.error_codes import Failure, http_failure, store_error_class
from ivsecrets.errors import (
    AccessDeniedError,
    IntercomAPIError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.intercom import (
    IntercomAuthError,
    IntercomClient,
    IntercomNotFoundError,
    IntercomRateLimitedError,
    IntercomUnavailableError,
)
from ivsecrets.intercom.errors import ERRORS, error_class
from ivsecrets.intercom.transport import HTTPResponse
from tests.servers.intercom import FAST_RETRY

# The Intercom error and the store error of each kind of failure, side by side.
PAIRS = {
    Failure.denied: (IntercomAuthError, AccessDeniedError),
    Failure.not_found: (IntercomNotFoundError, SecretNotFoundError),
    Failure.throttled: (IntercomRateLimitedError, StoreThrottledError),
    Failure.unavailable: (IntercomUnavailableError, StoreUnavailableError),
}


def test_every_kind_of_failure_has_an_intercom_error_and_a_store_error() -> None:
    assert set(ERRORS) == set(PAIRS) == set(Failure)
    for failure, (intercom, stored) in PAIRS.items():
        assert ERRORS[failure] is intercom
        assert store_error_class(failure) is stored


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 502, 503])
def test_a_status_means_one_failure_to_intercom_and_to_the_stores(status: int) -> None:
    failure = http_failure(status)
    intercom, stored = PAIRS[failure] if failure else (IntercomAPIError, StoreError)
    assert error_class(status) is intercom
    assert store_error_class(failure) is stored


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, IntercomAuthError),
        (403, IntercomAuthError),
        (404, IntercomNotFoundError),
        (422, IntercomAPIError),
        (429, IntercomRateLimitedError),
        (503, IntercomUnavailableError),
    ],
)
def test_the_client_raises_the_table_s_error(status: int, expected: type[Exception]) -> None:
    def answer(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HTTPResponse:
        return HTTPResponse(status, {}, json.dumps({"type": "error.list"}).encode())

    client = IntercomClient(
        "token-value-for-test",
        transport=answer,
        workspace="test",
        retry=FAST_RETRY,
        sleep=lambda _: None,
    )
    with pytest.raises(IntercomAPIError) as caught:
        client.list()
    assert type(caught.value) is expected
    assert caught.value.status == status
