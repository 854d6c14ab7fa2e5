"""Input checks (before any request) and the retry policy's decisions."""

import random

import pytest

from prefect_tavus.core import (
    InsecureTransportError,
    InvalidReplicaIdError,
    InvalidVideoIdError,
    RetryPolicy,
    TavusAuthenticationError,
    TavusNotFoundError,
    TavusRateLimitError,
    TavusServerError,
    validate_base_url,
    validate_replica_id,
    validate_replica_ids,
    validate_video_id,
)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "\t",
        None,
        123,
        b"r1",
        ["r1"],
        "a/b",
        "../r1",
        "..",
        "r1?x=1",
        "r1#frag",
        "r1\n",
        "r\x00",
        " r1",
        "r 1",
        "r%2F1",
        "x" * 200,
    ],
)
def test_bad_replica_ids_raise_value_error(bad):
    with pytest.raises(InvalidReplicaIdError) as info:
        validate_replica_id(bad)
    assert isinstance(info.value, ValueError)
    assert "replica_id" in str(info.value)


def test_good_replica_id_passes():
    assert validate_replica_id("rf4e9d9790f0") == "rf4e9d9790f0"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "\t",
        None,
        123,
        b"v1",
        ["v1"],
        "a/b",
        "a\\b",
        "../v1",
        "..",
        ".",
        "v1?x=1",
        "v1#frag",
        "v1\n",
        "v\x00",
        "v\x7f",
        " v1",
        "v1 ",
        "v 1",
        "v\u00a01",
        "v%2F1",
        "v,1",
        "x" * 200,
    ],
)
def test_bad_video_ids_are_refused_by_the_same_rule_naming_video_id(bad):
    with pytest.raises(InvalidVideoIdError) as info:
        validate_video_id(bad)
    assert isinstance(info.value, ValueError) and not isinstance(info.value, InvalidReplicaIdError)
    assert "video_id" in str(info.value) and "replica" not in str(info.value)
    with pytest.raises(InvalidReplicaIdError):  # one rule: what one refuses, the other does too
        validate_replica_id(bad)


@pytest.mark.parametrize("good", ["abcd123", "783537ef5", "v.1", "V-1_x"])
def test_good_video_ids_pass(good):
    assert validate_video_id(good) == good
    assert validate_video_id(good, name="videos[0]") == good


def test_replica_ids_refuses_a_bare_string_and_empty_lists():
    with pytest.raises(InvalidReplicaIdError, match="list"):
        validate_replica_ids("r1")
    with pytest.raises(InvalidReplicaIdError, match="empty"):
        validate_replica_ids([])
    with pytest.raises(InvalidReplicaIdError, match=r"replica_ids\[1\]"):
        validate_replica_ids(["r1", "a/b"])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://tavusapi.com", "https://tavusapi.com"),
        ("https://tavusapi.com/", "https://tavusapi.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://localhost:1", "http://localhost:1"),
        ("http://[::1]:8", "http://[::1]:8"),
    ],
)
def test_base_url_accepted(url, expected):
    assert validate_base_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://tavusapi.com",
        "tavusapi.com",
        "http://tavusapi.com",
        "http://10.0.0.5",
        "https://user:pw@tavusapi.com",
        "https://tavusapi.com?x=1",
        "",
        None,
    ],
)
def test_base_url_refused(url):
    with pytest.raises(InsecureTransportError):
        validate_base_url(url)


def test_only_transient_errors_are_retryable():
    policy = RetryPolicy()
    assert policy.is_retryable(TavusRateLimitError("x"))
    assert policy.is_retryable(TavusServerError("x"))
    assert not policy.is_retryable(TavusAuthenticationError("x"))
    assert not policy.is_retryable(TavusNotFoundError("x"))
    assert not policy.is_retryable(ValueError("x"))


def test_backoff_grows_and_caps_with_jitter_below_nominal():
    policy = RetryPolicy(base_delay=1, max_delay=8, jitter=0.5)
    assert [policy.nominal_delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    rng = random.Random(1)
    for n in range(1, 7):
        d = policy.delay(n, rng=rng)
        assert policy.nominal_delay(n) * 0.5 <= d <= policy.nominal_delay(n)


def test_retry_after_floors_the_delay_and_is_capped():
    policy = RetryPolicy(base_delay=1, max_delay=8, max_retry_after=60)
    assert policy.delay(1, TavusRateLimitError("x", retry_after=30)) == 30
    assert policy.delay(1, TavusRateLimitError("x", retry_after=3600)) == 60
    # a Retry-After shorter than the backoff never shortens it
    assert policy.delay(4, TavusRateLimitError("x", retry_after=0.1)) >= 4


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)


def test_task_retries_decide_by_the_policy_they_were_built_from():
    """``retry_task_options(policy)`` retries what *that* policy calls retryable, and caps
    Retry-After by that policy, not by the default one."""
    from types import SimpleNamespace
    from uuid import uuid4

    from prefect_tavus.tasks import _retry

    class NothingRetryable(RetryPolicy):
        @staticmethod
        def is_retryable(error: BaseException) -> bool:
            return False

    never = _retry.retry_task_options(NothingRetryable(attempts=3))
    failed = SimpleNamespace(data=TavusServerError("x", retry_after=100.0))
    assert never["retries"] == 2
    assert never["retry_condition_fn"](None, SimpleNamespace(id=uuid4()), failed) is False

    capped = _retry.retry_task_options(RetryPolicy(max_retry_after=0.5))
    run = SimpleNamespace(id=uuid4())
    assert capped["retry_condition_fn"](None, run, failed) is True
    import time as _time

    assert _retry._not_before.pop(run.id) - _time.monotonic() <= 0.5


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "127.0.0.1",
        "127.5.6.7",
        "127.255.255.254",
        "::1",
        "[::1]",
        "0:0:0:0:0:0:0:1",
    ],
)
def test_loopback_hosts(host):
    from prefect_tavus.core.validation import is_loopback_host

    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "foo.localhost",
        "localhost.localdomain",
        "localhost.",
        "LOCALHOST.",
        "localhost.example.com",
        "evil-localhost",
        "128.0.0.1",
        "126.255.255.255",
        "10.0.0.5",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",
        "::1%lo",
        "[[::1]]",
        "[::2]",
        " localhost",
        "127.1",
        "",
        "tavusapi.com",
    ],
)
def test_everything_else_is_not_loopback(host):
    from prefect_tavus.core.validation import is_loopback_host

    assert not is_loopback_host(host)


@pytest.mark.parametrize("url", ["http://127.5.6.7:8765", "http://[::1]:9", "http://LocalHost:1/"])
def test_plain_http_to_loopback_is_accepted(url):
    assert validate_base_url(url).startswith("http://")


@pytest.mark.parametrize(
    "url",
    [
        "http://foo.localhost:8765",
        "http://api.localhost",
        "http://localhost.:8765",
        "http://localhost.example.com",
        "http://[::ffff:127.0.0.1]:8",
        "http://128.0.0.1",
    ],
)
def test_plain_http_to_a_name_that_may_resolve_elsewhere_is_refused(url):
    with pytest.raises(InsecureTransportError, match="plain http"):
        validate_base_url(url)


def test_https_to_any_localhost_name_is_fine():
    # The rule is about clear text only: over TLS any host may be used.
    assert validate_base_url("https://foo.localhost:8443") == "https://foo.localhost:8443"
