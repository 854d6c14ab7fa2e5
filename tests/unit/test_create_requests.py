"""One checked model per create: every bad input is refused with a typed error naming the
field, before any request (respx would see it: nothing is allowed through), and the body
sent is the one the docs' disagreements were decided for."""

from __future__ import annotations

import pickle

import httpx
import pytest
import respx

from prefect_tavus.core import (
    InvalidCreateRequestError,
    InvalidReplicaRequestError,
    InvalidVideoRequestError,
    ReplicaCreateRequest,
    TavusClient,
    TavusConfigurationError,
    VideoCreateRequest,
)

BASE = "http://127.0.0.1:8911"
KEY = "tvs-unit-requests"
REPLICA = "r783537ef5"
AUDIO = "https://cdn.example/speech.wav"
TOKEN = "cb-token-" + "q" * 24


@pytest.fixture
def tavus():
    """A respx router standing in for Tavus: any request it sees fails the test."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


async def _create(tavus: respx.MockRouter, **fields: object) -> InvalidVideoRequestError:
    async with TavusClient(
        KEY, base_url=BASE, transport=httpx.MockTransport(tavus.handler)
    ) as client:
        with pytest.raises(InvalidVideoRequestError) as info:
            await client.create_video(fields)
    assert tavus.calls.call_count == 0  # refused before any request
    return info.value


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        (
            {"script": "Hi", "audio_url": AUDIO},
            "script",
            "exactly one of script or audio_url, not both",
        ),
        ({}, "script", "neither"),
        ({"script": ""}, "script", "script is empty"),
        ({"script": " \n\t "}, "script", "script is empty"),
        ({"script": "Hi", "transparent_background": True}, "transparent_background", "fast=True"),
        (
            {"script": "Hi", "transparent_background": True, "fast": False},
            "transparent_background",
            "fast=True",
        ),
        (
            {"script": "Hi", "fast": False, "properties": {"transparent_background": True}},
            "transparent_background",
            "fast=True",
        ),
        ({"audio_url": "ftp://cdn.example/speech.wav"}, "audio_url", "scheme 'ftp'"),
        ({"audio_url": "file:///tmp/speech.wav"}, "audio_url", "scheme 'file'"),
        ({"audio_url": "cdn.example/speech.wav"}, "audio_url", "http(s)"),
        ({"audio_url": "https:///speech.wav"}, "audio_url", "no host"),
        ({"audio_url": ""}, "audio_url", "empty"),
        ({"script": "Hi", "background_url": "javascript:alert(1)"}, "background_url", "http(s)"),
        (
            {"script": "Hi", "background_source_url": "s3://bucket/bg.mp4"},
            "background_source_url",
            "scheme 's3'",
        ),
        (
            {"script": "Hi", "watermark_image_url": "https://cdn.example/w m.png"},
            "watermark_image_url",
            "whitespace",
        ),
        (
            {"script": "Hi", "watermark_url": "data:image/png;base64,AAAA"},
            "watermark_image_url",
            "http(s)",
        ),
        ({"script": "Hi", "video_name": "  "}, "video_name", "video_name is empty"),
        (
            {"script": "Hi", "wtermark_url": "https://cdn.example/w.png"},
            "wtermark_url",
            "not a field",
        ),
        ({"script": 42}, "script", "valid string"),
    ],
)
async def test_each_bad_input_is_refused_before_any_request_naming_its_field(
    tavus, fields, field, words
):
    error = await _create(tavus, replica_id=REPLICA, **fields)
    assert error.field == field and words in str(error)
    assert isinstance(error, TavusConfigurationError) and isinstance(error, ValueError)
    assert "Nothing was sent" in str(error)


@pytest.mark.parametrize(
    "replica_id", ["", "  ", "r1/../videos", "r 1", "r1\n", "..", "r1?x=1", 7, None]
)
async def test_a_bad_replica_id_is_refused_by_the_replica_id_rule(tavus, replica_id):
    error = await _create(tavus, replica_id=replica_id, script="Hi")
    assert error.field == "replica_id"


async def test_a_missing_replica_id_is_refused(tavus):
    error = await _create(tavus, script="Hi")
    assert error.fields == ("replica_id",) and "replica_id is required" in str(error)


async def test_every_bad_field_is_named_at_once_and_no_url_is_quoted(tavus):
    secret_callback = f"htps://receiver.example/tavus/callbacks/{TOKEN}"
    error = await _create(
        tavus,
        replica_id=REPLICA,
        script="   ",
        callback_url=secret_callback,
        audio_url="ftp://cdn.example/a.wav?X-Amz-Signature=" + "s" * 40,
    )
    assert set(error.fields) == {"script", "callback_url", "audio_url"}
    said = "\n".join([str(error), repr(error), repr(pickle.loads(pickle.dumps(error)).args)])
    assert TOKEN not in said and "s" * 40 not in said
    assert error.__suppress_context__  # pydantic's own error (which quotes inputs) is not shown


def test_the_callback_url_is_kept_out_of_repr():
    request = VideoCreateRequest(
        replica_id=REPLICA, script="Hi", callback_url=f"https://r.example/cb/{TOKEN}"
    )
    assert TOKEN not in repr(request) and TOKEN not in str(request)
    assert request.body()["callback_url"] == f"https://r.example/cb/{TOKEN}"  # but sent


def test_the_body_has_the_fields_given_under_the_names_decided():
    request = VideoCreateRequest(
        replica_id=REPLICA,
        script="Hello",
        video_name="Welcome",
        background_source_url="https://cdn.example/bg.mp4",
        fast=True,
        transparent_background=True,
        watermark_url="https://cdn.example/w.png",
        properties={"start_with_wave": True},
    )
    assert (
        request.body()
        == {
            "replica_id": REPLICA,
            "script": "Hello",
            "video_name": "Welcome",
            "background_source_url": "https://cdn.example/bg.mp4",
            "fast": True,
            "transparent_background": True,  # top-level, as the API reference's schema and example send it
            "watermark_image_url": "https://cdn.example/w.png",  # the API reference's name, also for watermark_url
            "properties": {"start_with_wave": True},
        }
    )
    assert VideoCreateRequest(replica_id=REPLICA, audio_url=AUDIO).body() == {
        "replica_id": REPLICA,
        "audio_url": AUDIO,
    }
    # The escape hatch: properties are passed as given.
    nested = VideoCreateRequest(
        replica_id=REPLICA, script="Hi", fast=True, properties={"transparent_background": True}
    )
    assert (
        nested.body()["properties"] == {"transparent_background": True}
        and "transparent_background" not in nested.body()
    )


def test_both_watermark_spellings_are_one_option():
    url = "https://cdn.example/w.png"
    same = VideoCreateRequest.model_validate(
        {"replica_id": REPLICA, "script": "Hi", "watermark_url": url, "watermark_image_url": url}
    )
    assert same.body()["watermark_image_url"] == url and "watermark_url" not in same.body()
    with pytest.raises(InvalidVideoRequestError, match="different URLs") as info:
        VideoCreateRequest.model_validate(
            {
                "replica_id": REPLICA,
                "script": "Hi",
                "watermark_url": url,
                "watermark_image_url": "https://cdn.example/other.png",
            }
        )
    assert info.value.field == "watermark_image_url"


def test_a_request_is_immutable_and_revalidating_it_is_a_no_op():
    request = VideoCreateRequest(replica_id=REPLICA, script="Hi")
    with pytest.raises(ValueError):
        request.script = "changed"  # type: ignore[misc]
    assert VideoCreateRequest.model_validate(request) is request
    with pytest.raises(InvalidVideoRequestError, match="valid dictionary"):
        VideoCreateRequest.model_validate(["not", "a", "request"])


# --- replicas: the same machinery ----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({}, "train_video_url", "exactly one of train_video_url or train_image_url"),
        (
            {
                "train_video_url": "https://v/x.mp4",
                "train_image_url": "https://i/x.png",
                "voice_name": "v",
            },
            "train_video_url",
            "exactly one",
        ),
        ({"train_image_url": "https://i/x.png"}, "voice_name", "needs voice_name"),
        ({"train_video_url": "ftp://v/x.mp4"}, "train_video_url", "scheme 'ftp'"),
        (
            {"train_video_url": "https://v/x.mp4", "consent_video_url": "/local/consent.mp4"},
            "consent_video_url",
            "http(s)",
        ),
        (
            {"train_video_url": "https://v/x.mp4", "replica_nme": "typo"},
            "replica_nme",
            "not a field",
        ),
    ],
)
def test_a_replica_request_refuses_bad_input_naming_the_field(fields, field, words):
    with pytest.raises(InvalidReplicaRequestError) as info:
        ReplicaCreateRequest(**fields)
    assert info.value.field == field and words in str(info.value)
    assert isinstance(info.value, InvalidCreateRequestError) and isinstance(info.value, ValueError)
    with pytest.raises(InvalidReplicaRequestError):  # the wrapper callers already use says the same
        TavusClient.replica_create_body(**fields)


def test_replica_create_body_is_the_models_body():
    fields = {
        "train_video_url": "https://v/x.mp4",
        "replica_name": "Ann",
        "model_name": None,
        "callback_url": f"https://r.example/cb/{TOKEN}",
        "properties": {"gaze_correction": True},
    }
    assert (
        TavusClient.replica_create_body(**fields)
        == ReplicaCreateRequest(**fields).body()
        == {
            "train_video_url": "https://v/x.mp4",
            "replica_name": "Ann",
            "callback_url": f"https://r.example/cb/{TOKEN}",
            "properties": {"gaze_correction": True},
        }
    )
    assert TOKEN not in repr(ReplicaCreateRequest(**fields))


async def test_create_replica_takes_the_model_or_its_fields_not_both(tavus):
    tavus.post("/v2/replicas").respond(200, json={"replica_id": "r1", "status": "started"})
    request = ReplicaCreateRequest(train_video_url="https://v/x.mp4", replica_name="Ann")
    async with TavusClient(
        KEY, base_url=BASE, transport=httpx.MockTransport(tavus.handler)
    ) as client:
        assert (await client.create_replica(request)).replica_id == "r1"
        assert (await client.create_replica(train_video_url="https://v/x.mp4")).replica_id == "r1"
        with pytest.raises(TypeError, match="not both"):
            await client.create_replica(request, replica_name="Bob")
        with pytest.raises(InvalidReplicaRequestError):
            await client.create_replica(train_image_url="https://i/x.png")
    assert tavus.calls.call_count == 2
    assert [call.request.content for call in tavus.calls] == [
        b'{"train_video_url":"https://v/x.mp4","replica_name":"Ann"}',
        b'{"train_video_url":"https://v/x.mp4"}',
    ]
