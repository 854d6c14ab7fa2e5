"""The one place HTTP outcomes become typed errors."""

import email.utils
import time

import httpx
import pytest

from prefect_tavus.core.errors import (
    TavusAuthenticationError,
    TavusConnectionError,
    TavusNotFoundError,
    TavusRateLimitError,
    TavusRequestError,
    TavusServerError,
    TavusTransientError,
)
from prefect_tavus.core.http_errors import (
    error_from_response,
    error_from_transport,
    parse_retry_after,
)

KEY = "tvs-secret-key-123"


def _response(status, json=None, text=None, headers=None):
    request = httpx.Request("GET", "https://tavusapi.com/v2/replicas/r1")
    if json is not None:
        return httpx.Response(status, json=json, headers=headers, request=request)
    return httpx.Response(status, text=text or "", headers=headers, request=request)


def test_401_is_authentication_error_with_api_message_and_advice():
    error = error_from_response(
        _response(401, {"message": "Invalid access token"}),
        operation="get replica",
        replica_id="r1",
    )
    assert isinstance(error, TavusAuthenticationError)
    assert not isinstance(error, TavusTransientError)
    assert error.api_message == "Invalid access token"
    assert "TAVUS_API_KEY" in str(error)


def test_403_is_authentication_error():
    assert isinstance(
        error_from_response(_response(403, {"message": "ip"}), operation="x"),
        TavusAuthenticationError,
    )


@pytest.mark.parametrize("status", [400, 404])
def test_400_and_404_for_a_replica_are_not_found(status):
    error = error_from_response(
        _response(status, {"error": "Invalid replica_id"}), operation="get replica", replica_id="r1"
    )
    assert isinstance(error, TavusNotFoundError)
    assert error.replica_id == "r1" and error.status_code == status
    assert "Invalid replica_id" in str(error)


def test_400_without_a_replica_is_a_request_error():
    error = error_from_response(
        _response(400, {"error": "train_video_url is required"}), operation="create replica"
    )
    assert isinstance(error, TavusRequestError)
    assert "train_video_url is required" in str(error)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (429, TavusRateLimitError),
        (500, TavusServerError),
        (502, TavusServerError),
        (503, TavusServerError),
        (504, TavusServerError),
    ],
)
def test_transient_statuses(status, cls):
    error = error_from_response(
        _response(status, {"message": "busy"}, headers={"Retry-After": "7"}), operation="x"
    )
    assert isinstance(error, cls) and isinstance(error, TavusTransientError)
    assert error.retry_after == 7.0


def test_message_reads_error_then_message_then_text():
    both = error_from_response(
        _response(400, {"error": "E", "message": "M"}), operation="x", replica_id="r"
    )
    assert both.api_message == "E"
    text = error_from_response(_response(502, text="<html>Bad gateway</html>"), operation="x")
    assert text.api_message == "<html>Bad gateway</html>"


def test_redirect_is_refused_not_followed():
    error = error_from_response(
        _response(302, text="", headers={"location": "https://evil.example/"}), operation="x"
    )
    assert isinstance(error, TavusRequestError)
    assert "redirect" in str(error)


def test_server_echo_of_key_is_scrubbed():
    error = error_from_response(
        _response(401, {"message": f"bad key {KEY}"}), operation="x", secrets=[KEY]
    )
    assert KEY not in str(error) and KEY not in repr(error) and KEY not in (error.api_message or "")


def test_transport_errors_are_transient():
    request = httpx.Request("GET", "https://tavusapi.com/v2/replicas/r1")
    for exc, word in [
        (httpx.ReadTimeout("t", request=request), "timed out"),
        (httpx.ConnectError("c", request=request), "could not connect"),
        (httpx.RemoteProtocolError("p", request=request), "lost the connection"),
    ]:
        error = error_from_transport(exc, operation="get replica", replica_id="r1")
        assert isinstance(error, TavusConnectionError) and word in str(error)


def test_retry_after_forms():
    now = time.time()
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    http_date = email.utils.formatdate(now + 120, usegmt=True)
    assert 115 <= parse_retry_after(http_date, now=now) <= 121
    past = email.utils.formatdate(now - 120, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


def test_errors_survive_pickling_with_attributes():
    import pickle

    error = error_from_response(
        _response(429, {"message": "slow"}, headers={"Retry-After": "3"}), operation="x"
    )
    clone = pickle.loads(pickle.dumps(error))
    assert (
        type(clone) is TavusRateLimitError and clone.retry_after == 3.0 and str(clone) == str(error)
    )


# 2026-11-29 12:00:00 UTC, as epoch seconds: a fixed "now" for HTTP-date arithmetic.
FIXED_NOW = 1795953600.0


@pytest.mark.parametrize(
    "header",
    [
        "Sun, 29 Nov 2026 12:02:00 -0000",
        "Sun, 29 Nov 2026 12:02:00 GMT",
        "Sun, 29 Nov 2026 12:02:00 +0000",
        "Sun, 29 Nov 2026 13:02:00 +0100",
        "Sun, 29 Nov 2026 12:02:00",
    ],
)
def test_http_dates_are_utc_whatever_their_zone_spelling(header):
    assert parse_retry_after(header, now=FIXED_NOW) == 120.0


_IN_ANOTHER_ZONE = """
import os, time
os.environ["TZ"] = {tz!r}
time.tzset()
assert time.timezone != 0, "the zone did not take: the test would prove nothing"
from prefect_tavus.core.http_errors import parse_retry_after
print(parse_retry_after("Sun, 29 Nov 2026 12:02:00 -0000", now={now!r}))
"""


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo", "EST+05"])
def test_minus_zero_http_date_is_utc_even_when_the_machine_is_not(tz):
    import subprocess
    import sys

    code = _IN_ANOTHER_ZONE.format(tz=tz, now=FIXED_NOW)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert float(out) == 120.0


# --- kind-neutral bases: catch any kind's outcome -----------------------------------------


def test_each_kinds_wait_errors_narrow_one_kind_neutral_base():
    from prefect_tavus.core import (
        JobFailedError,
        NotFoundDuringWaitError,
        Replica,
        ReplicaNotFoundDuringWaitError,
        ReplicasWaitFailedError,
        ReplicaTrainingFailedError,
        ReplicaWaitTimeoutError,
        TavusError,
        Video,
        VideoGenerationFailedError,
        VideoNotFoundDuringWaitError,
        VideosWaitFailedError,
        VideoWaitTimeoutError,
        WaitFailedError,
        WaitTimeoutError,
    )

    timeouts = [
        ReplicaWaitTimeoutError(
            "r1", waited_seconds=5, last_status="started", last_progress="4/100"
        ),
        VideoWaitTimeoutError("v1", waited_seconds=5, last_status="generating"),
    ]
    for error in timeouts:
        with pytest.raises(WaitTimeoutError):
            raise error
        assert isinstance(error, TimeoutError) and error.waited_seconds == 5
    assert [e.last_status for e in timeouts] == ["started", "generating"]

    cause = TavusNotFoundError("no", status_code=400, api_message="Invalid id")
    for error in (ReplicaNotFoundDuringWaitError("r1", cause), VideoNotFoundDuringWaitError("v1")):
        assert isinstance(error, NotFoundDuringWaitError) and isinstance(error, TavusNotFoundError)
    assert ReplicaNotFoundDuringWaitError("r1", cause).__cause__ is cause
    assert ReplicaNotFoundDuringWaitError("r1", cause).api_message == "Invalid id"

    replica = Replica(replica_id="r1", status="error", error_message="bad codec")
    video = Video(video_id="v1", status="error", status_details="replica_in_error_state")
    failed = [ReplicaTrainingFailedError(replica), VideoGenerationFailedError(video)]
    assert all(isinstance(e, JobFailedError) for e in failed)
    assert [e.reason for e in failed] == ["bad codec", "replica_in_error_state"]
    assert [e.resource for e in failed] == [replica, video]
    assert failed[0].replica is replica and failed[1].video is video

    for cls in (ReplicasWaitFailedError, VideosWaitFailedError):
        error = cls("some did not complete", ["result"])
        assert isinstance(error, WaitFailedError) and error.results == ["result"]
    for base in (JobFailedError, NotFoundDuringWaitError, WaitFailedError, WaitTimeoutError):
        assert issubclass(base, TavusError)


def test_a_bad_argument_to_the_client_is_a_tavus_error_and_still_a_value_error():
    from prefect_tavus.core import TavusArgumentError, TavusArgumentTypeError, TavusError

    assert issubclass(TavusArgumentError, TavusError) and issubclass(TavusArgumentError, ValueError)
    assert issubclass(TavusArgumentTypeError, TavusArgumentError)
    assert issubclass(TavusArgumentTypeError, TypeError)


def test_the_http_mapping_lives_beside_the_client_and_imports_without_prefect():
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from prefect_tavus.core.http_errors import error_from_response, parse_retry_after, scrub\n"
            "import prefect_tavus.core.errors as errors\n"
            "assert 'prefect' not in sys.modules\n"
            "assert not hasattr(errors, 'error_from_response') and not hasattr(errors, 'scrub')\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
