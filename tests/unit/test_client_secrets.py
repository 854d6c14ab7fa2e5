"""No secret the client handles reaches an error: not the API key, and not the callback
token that a create's ``callback_url`` carries, even when Tavus quotes the request back.

Over loopback against the simulator, which answers an invalid ``callback_url`` with a 400
quoting it, as a real API might; status faults produce the other echoes (5xx, non-JSON).
"""

from __future__ import annotations

import pickle
import secrets
import traceback

import pytest

from prefect_tavus.core import (
    InvalidReplicaRequestError,
    TavusClient,
    TavusError,
    TavusMalformedResponseError,
    TavusRequestError,
    TavusServerError,
)
from prefect_tavus.core.http_errors import (
    MIN_SECRET_PART_LENGTH,
    request_secrets,
    scrub,
    url_secrets,
)
from prefect_tavus.simulator import Fault, TavusSimulator
from tests.conftest import SIM_KEY

TRAIN = "https://cdn.example.com/train.mp4"


def _token() -> str:
    return secrets.token_urlsafe(32)


def _everything_said(error: BaseException) -> str:
    """Every text a caller, a log or Prefect's state could take from the error."""
    return "\n".join(
        [
            str(error),
            repr(error),
            repr(error.args),
            str(getattr(error, "api_message", "")),
            "".join(traceback.format_exception(error)),
            repr(pickle.loads(pickle.dumps(error)).args),
        ]
    )


async def _create_error(simulator: TavusSimulator, callback_url: str) -> TavusError:
    async with TavusClient(SIM_KEY, base_url=simulator.url, timeout=5) as client:
        with pytest.raises(TavusError) as info:
            await client.create_replica(
                train_video_url=TRAIN, callback_url=callback_url, replica_name="Ann"
            )
    return info.value


async def test_invalid_callback_url_quoted_back_in_a_400_keeps_the_token_out(simulator):
    token = _token()
    url = f"https://receiver.example:99999/tavus/callbacks/{token}"  # port out of range: Tavus's to judge
    error = await _create_error(simulator, url)
    assert isinstance(error, TavusRequestError) and error.status_code == 400
    # The 400 did quote the URL (the scrub had something to do), and says what was wrong.
    assert "Invalid callback_url" in (error.api_message or "") and "***" in (
        error.api_message or ""
    )
    said = _everything_said(error)
    assert token not in said and url.strip() not in said
    assert SIM_KEY not in said
    assert simulator.stats()["by_route"] == {"POST /v2/replicas": 1}


@pytest.mark.parametrize(
    "template",
    [
        "htps://receiver.example/tavus/callbacks/{token}",  # scheme typo
        "https:/receiver.example/tavus/callbacks/{token}",  # no host
        "https://receiver.example/tavus/callbacks/{token} ",  # trailing space
    ],
)
async def test_a_malformed_callback_url_is_refused_before_sending_without_quoting_it(
    simulator, template
):
    token = _token()
    error = await _create_error(simulator, template.format(token=token))
    assert isinstance(error, InvalidReplicaRequestError) and error.field == "callback_url"
    assert token not in _everything_said(error)
    assert simulator.stats()["requests"] == 0


@pytest.mark.parametrize(
    "body",
    [
        # JSON, the URL quoted with escaped slashes: only the token segment is still found as written
        '{{"message": "upstream failed for callback_url https:\\/\\/h.example\\/tavus\\/callbacks\\/{token}"}}',
        # plain text where the token straddles the 300-character cut: scrubbed before the cut
        "x" * 270 + " {token} trailing",
        # the token percent-encoded cannot change (unreserved characters), but a whole-URL echo can
        '{{"error": "bad gateway for https://h.example/tavus/callbacks/{token}"}}',
    ],
)
async def test_a_5xx_that_echoes_the_request_keeps_the_token_out(simulator, body):
    token = _token()
    simulator.inject_faults("*", [Fault.status(502, body=body.format(token=token))])
    error = await _create_error(simulator, f"https://h.example/tavus/callbacks/{token}")
    assert isinstance(error, TavusServerError)
    said = _everything_said(error)
    assert token not in said
    assert token[:MIN_SECRET_PART_LENGTH] not in said  # not even the part before a cut


async def test_a_non_json_2xx_that_echoes_the_token_keeps_it_out(simulator):
    token = _token()
    simulator.inject_faults("*", [Fault.status(200, body=f"<html>{token}</html>")])
    error = await _create_error(simulator, f"https://h.example/tavus/callbacks/{token}")
    assert isinstance(error, TavusMalformedResponseError)
    assert token not in _everything_said(error)


async def test_the_api_key_echoed_in_a_400_is_still_scrubbed(simulator):
    simulator.inject_faults(
        "*", [Fault.status(400, body={"error": f"key {SIM_KEY} may not do that"})]
    )
    error = await _create_error(simulator, f"https://h.example/tavus/callbacks/{_token()}")
    assert SIM_KEY not in _everything_said(error)
    assert error.api_message == "key *** may not do that"


async def test_a_long_echo_is_bounded_and_kept_on_one_line(simulator):
    simulator.inject_faults(
        "*", [Fault.status(400, body={"error": "line one\nFAKE LOG LINE " + "y" * 5000})]
    )
    error = await _create_error(simulator, f"https://h.example/tavus/callbacks/{_token()}")
    assert "\n" not in error.api_message and "\n" not in str(error)
    assert len(error.api_message) <= 310 and len(str(error)) < 500


def test_url_secrets_are_the_url_and_its_long_parts():
    token = "A" * 16
    found = url_secrets(f"https://h.example/tavus/callbacks/{token}?sig={'b' * 20}&x=1")
    assert f"https://h.example/tavus/callbacks/{token}?sig={'b' * 20}&x=1" in found
    assert token in found and "b" * 20 in found
    # the words of a path and short values are not secrets: scrubbing them would garble messages
    assert not {"tavus", "callbacks", "h.example", "1", "x"} & set(found)
    assert "A" * 15 not in url_secrets(f"https://h.example/cb/{'A' * 15}")
    assert url_secrets("") == () and url_secrets("https://[::1/broken/" + token) != ()


def test_scrub_replaces_the_whole_url_before_its_parts():
    token = "T" * 20
    url = f"https://h.example/tavus/callbacks/{token}"
    assert scrub(f"bad {url}!", url_secrets(url)) == "bad ***!"
    assert scrub(f"token {token}", url_secrets(url)) == "token ***"


def test_request_secrets_reads_the_request_as_sent():
    import httpx

    token = "Z" * 24
    create = httpx.Request(
        "POST",
        "https://tavusapi.com/v2/replicas",
        json={"train_video_url": TRAIN, "callback_url": f"https://h/cb/{token}"},
    )
    assert {"key", token, f"https://h/cb/{token}"} <= set(request_secrets(create, api_key="key"))
    get = httpx.Request("GET", "https://tavusapi.com/v2/replicas/r1")
    assert request_secrets(get, api_key="key") == ("key",)
    assert request_secrets(
        httpx.Request("POST", "https://t/v2", content=b"not json"), api_key="key"
    ) == ("key",)
