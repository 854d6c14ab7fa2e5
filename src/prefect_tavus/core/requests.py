"""Create requests, one model each: what a ``POST`` that bills may carry, checked before it
is sent.

A create is not idempotent (each one trains a replica or renders a video, and bills it),
so its input is checked here, I/O-free, once: the client, the tasks and the flows all
build the same model instead of repeating a field list, and a bad field fails with a
typed error naming it (:class:`~prefect_tavus.core.errors.InvalidReplicaRequestError`,
:class:`~prefect_tavus.core.errors.InvalidVideoRequestError`, both ``ValueError``) before
anything is recorded or sent. :meth:`body` is the JSON body.

The checks are the ones that are certain (exactly one source, a URL Tavus can fetch);
what is Tavus's to judge (file sizes, codecs, durations, whether a replica exists) is
left to Tavus. Messages never quote a URL's value: a ``callback_url`` carries the callback
receiver's token and a presigned ``audio_url`` its signature. For the same reason
``callback_url`` is kept out of the models' ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import Self

from prefect_tavus.core.errors import (
    InvalidCreateRequestError,
    InvalidReplicaIdError,
    InvalidReplicaRequestError,
    InvalidVideoRequestError,
)
from prefect_tavus.core.validation import validate_replica_id

__all__ = ["ReplicaCreateRequest", "VideoCreateRequest", "VideoRow"]


def _refuse(field: str, reason: str) -> PydanticCustomError:
    """A refusal that survives pydantic's wrapping with the field it is about."""
    return PydanticCustomError(
        "tavus_create_request", "{reason}", {"field": field, "reason": reason}
    )


def _check_url(value: Any, field: str) -> Any:
    """``value`` if it is an http(s) URL with a host, without whitespace or control
    characters; a refusal naming ``field`` (and only the scheme, never the URL) otherwise.

    Plain http is allowed: Tavus fetches these, and many media hosts serve http.
    """
    if value is None or not isinstance(value, str):
        return value  # None is "not given"; a wrong type is refused by the field's type
    if not value:
        raise _refuse(field, f"{field} is empty; pass an http(s) URL, or leave it out")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _refuse(
            field, f"{field} contains whitespace or control characters; pass the URL alone"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise _refuse(field, f"{field} is not a well-formed URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        shown = repr(parts.scheme) if parts.scheme and len(parts.scheme) <= 10 else "none"
        raise _refuse(field, f"{field} must be an http(s) URL Tavus can fetch (scheme {shown})")
    if not host:
        raise _refuse(field, f"{field} has no host; pass a full URL such as https://host/path")
    return value


class _CreateRequest(BaseModel):
    """The shared machinery: refusals become the request's typed error, naming fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The typed error this request raises (set by each subclass).
    _error: ClassVar[type[InvalidCreateRequestError]] = InvalidCreateRequestError

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise type(self)._refusal(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """As ``BaseModel.model_validate`` (a dict from JSON, a deployment's parameters),
        raising the request's typed error instead of pydantic's."""
        if isinstance(obj, cls):
            return obj
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise cls._refusal(exc) from None

    @classmethod
    def _refusal(cls, exc: ValidationError) -> InvalidCreateRequestError:
        """One typed error for every problem pydantic found, without quoting any input."""
        fields: list[str] = []
        reasons: list[str] = []
        problems = exc.errors(include_url=False, include_input=False)
        for problem in problems:
            # ``model_validate`` runs our ``__init__`` (pydantic does for a custom one), which
            # has already made the typed error: pass it on rather than wrap it again.
            made = (problem.get("ctx") or {}).get("error")
            if isinstance(made, InvalidCreateRequestError) and len(problems) == 1:
                return made
        for problem in problems:
            context = problem.get("ctx") or {}
            location = ".".join(str(part) for part in problem["loc"])
            field = str(context.get("field") or location or "request")
            if problem["type"] == "tavus_create_request":
                reason = str(context["reason"])
            elif problem["type"] == "extra_forbidden":
                reason = f"{field} is not a field of {cls.__name__} (misspelt?)"
            elif problem["type"] == "missing":
                reason = f"{field} is required"
            else:
                reason = f"{field}: {problem['msg']}"
            if field not in fields:
                fields.append(field)
            reasons.append(reason)
        return cls._error(
            f"Invalid {cls.__name__}: {'; '.join(reasons)}. Nothing was sent.", fields=fields
        )

    def body(self) -> dict[str, Any]:
        """The JSON body of the create: the fields given, under the names Tavus reads."""
        return self.model_dump(exclude_none=True)


class ReplicaCreateRequest(_CreateRequest):
    """``POST /v2/replicas``: train a replica from a video (or from an image and a voice).

    Exactly one of ``train_video_url`` or ``train_image_url``; an image needs
    ``voice_name``. Every URL must be http(s) with a host. Unknown fields are refused, so a
    misspelt option fails here instead of being ignored by Tavus.
    """

    _error: ClassVar[type[InvalidCreateRequestError]] = InvalidReplicaRequestError

    train_video_url: str | None = Field(
        default=None, description="Public direct link to the training video."
    )
    train_image_url: str | None = Field(
        default=None, description="Public link to a training image (with voice_name)."
    )
    voice_name: str | None = Field(default=None, description="The voice for image training.")
    consent_video_url: str | None = Field(
        default=None, description="Consent video, for personal replicas."
    )
    callback_url: str | None = Field(
        default=None,
        repr=False,
        description="Tavus POSTs here when training ends (holds a token: kept out of repr).",
    )
    replica_name: str | None = Field(default=None, description="A name for the replica.")
    model_name: str | None = Field(default=None, description="e.g. 'phoenix-3'.")
    properties: dict[str, Any] | None = Field(
        default=None, description="Further options, passed as given."
    )

    @field_validator("train_video_url", "train_image_url", "consent_video_url", "callback_url")
    @classmethod
    def _urls(cls, value: Any, info: ValidationInfo) -> Any:
        return _check_url(value, str(info.field_name))

    @model_validator(mode="after")
    def _one_source(self) -> ReplicaCreateRequest:
        if bool(self.train_video_url) == bool(self.train_image_url):
            raise _refuse(
                "train_video_url", "Pass exactly one of train_video_url or train_image_url"
            )
        if self.train_image_url and not self.voice_name:
            raise _refuse(
                "voice_name", "Image training needs voice_name as well as train_image_url"
            )
        return self


class VideoCreateRequest(_CreateRequest):
    """``POST /v2/videos``: render a video of a replica speaking a script or an audio file.

    ``replica_id`` (checked by the replica id rule) and exactly one of ``script`` (not
    blank) or ``audio_url`` (.wav or .mp3, 3 s to 10 min: Tavus checks those);
    ``transparent_background`` only with ``fast``; every URL http(s) with a host.

    Where Tavus's docs disagree, :meth:`body` sends what the current API reference
    documents, and the model accepts both spellings on input:

    * the watermark is ``watermark_image_url`` in the API reference (and a public client),
      ``watermark_url`` in one Tavus-written guide: ``watermark_url`` is accepted as an
      alias, ``watermark_image_url`` is sent. Sending both would risk a strict server
      refusing the unknown one.
    * ``transparent_background`` is top-level in the API reference's body schema and its
      request example, and drawn under ``properties`` in one rendering of the same page
      (the renderer nests the field that follows ``properties``): it is sent top-level. A
      ``properties={"transparent_background": ...}`` given explicitly is passed as given
      (an escape hatch, should an account need it there) and needs ``fast`` too.
    """

    _error: ClassVar[type[InvalidCreateRequestError]] = InvalidVideoRequestError

    replica_id: str = Field(description="The replica that speaks, e.g. 'r783537ef5'.")
    script: str | None = Field(default=None, description="The words to speak (or audio_url).")
    audio_url: str | None = Field(
        default=None, description="A .wav or .mp3 to lip-sync to (or script)."
    )
    video_name: str | None = Field(default=None, description="A name for the video.")
    background_url: str | None = Field(
        default=None, description="A website recorded as the background."
    )
    background_source_url: str | None = Field(
        default=None, description="A video file used as the background."
    )
    callback_url: str | None = Field(
        default=None,
        repr=False,
        description="Tavus POSTs the video here when it is ready or failed (holds a token: kept out of repr).",
    )
    fast: bool | None = Field(
        default=None, description="Barebones fast rendering (no backgrounds, thumbnails, streams)."
    )
    transparent_background: bool | None = Field(
        default=None, description="A .webm with a transparent background; needs fast=True."
    )
    watermark_image_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("watermark_image_url", "watermark_url"),
        description="A png or jpeg laid over the video (also accepted as watermark_url).",
    )
    properties: dict[str, Any] | None = Field(
        default=None, description="Further options, passed as given."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_watermark(cls, data: Any) -> Any:
        """``watermark_url`` and ``watermark_image_url`` are one field: both only if equal."""
        if not isinstance(data, Mapping) or "watermark_url" not in data:
            return data
        data = dict(data)
        alias = data.pop("watermark_url")
        given = data.get("watermark_image_url")
        if given is not None and alias is not None and given != alias:
            raise _refuse(
                "watermark_image_url",
                "watermark_url and watermark_image_url are the same option "
                "and were given different URLs; pass one",
            )
        if given is None:
            data["watermark_image_url"] = alias
        return data

    @field_validator("replica_id", mode="before")
    @classmethod
    def _replica(cls, value: Any) -> Any:
        try:
            return validate_replica_id(value)
        except InvalidReplicaIdError as exc:
            raise _refuse("replica_id", str(exc).rstrip(".")) from None

    @field_validator("script")
    @classmethod
    def _script(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise _refuse(
                "script",
                "script is empty (or only whitespace); pass the words to speak, or audio_url",
            )
        return value

    @field_validator("video_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise _refuse("video_name", "video_name is empty; pass a name, or leave it out")
        return value

    @field_validator(
        "audio_url",
        "background_url",
        "background_source_url",
        "callback_url",
        "watermark_image_url",
    )
    @classmethod
    def _urls(cls, value: Any, info: ValidationInfo) -> Any:
        return _check_url(value, str(info.field_name))

    @model_validator(mode="after")
    def _coherent(self) -> VideoCreateRequest:
        if self.script is not None and self.audio_url is not None:
            raise _refuse("script", "Pass exactly one of script or audio_url, not both")
        if self.script is None and self.audio_url is None:
            raise _refuse("script", "Pass exactly one of script or audio_url (neither was given)")
        nested = (self.properties or {}).get("transparent_background")
        if (self.transparent_background or nested is True) and not self.fast:
            raise _refuse(
                "transparent_background",
                "transparent_background works only with fast=True; "
                "set fast=True or drop transparent_background",
            )
        return self


class VideoRow(BaseModel):
    """One row of a batch of videos (``generate_videos``): the caller's ``key`` for it (a
    lead's, a customer's, a table row's id: what the results table is joined back on) and
    the video's fields, those of :class:`VideoCreateRequest` but ``replica_id``, which the
    batch gives once. A row without ``video_name`` is named after its key.
    """

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The caller's key for this row; unique within the batch.")
    request: VideoCreateRequest

    @classmethod
    def parse_batch(cls, replica_id: str, rows: Any) -> list[VideoRow]:
        """Every row of ``rows`` (dicts, as a deployment's JSON gives them, or rows)
        checked against ``replica_id``, before anything is sent.

        Raises:
            InvalidReplicaIdError: ``replica_id`` fails the id rule.
            InvalidVideoRequestError: ``rows`` is not a non-empty list, a row has no usable
                ``key``, two rows share a key, or a row's fields are refused; the message
                names the row (``requests[3].script``) and its key.
        """
        replica_id = validate_replica_id(replica_id)
        if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, (list, tuple)):
            raise InvalidVideoRequestError(
                f"requests must be a list of rows (dicts with a key and a script or an audio_url), got "
                f"{type(rows).__name__}. Nothing was sent.",
                fields=["requests"],
            )
        if not rows:
            raise InvalidVideoRequestError(
                "requests is empty; pass at least one row. Nothing was sent.", fields=["requests"]
            )
        parsed: list[VideoRow] = []
        seen: dict[str, int] = {}
        for index, row in enumerate(rows):
            where = f"requests[{index}]"
            fields: Any = row
            if isinstance(row, VideoRow):
                fields = {"key": row.key, **row.request.model_dump(exclude_none=True)}
            if not isinstance(fields, Mapping):
                raise InvalidVideoRequestError(
                    f"{where} is a {type(row).__name__}, not a row (a dict). Nothing was sent.",
                    fields=[where],
                )
            key = fields.get("key")
            if not isinstance(key, str) or not key.strip():
                raise InvalidVideoRequestError(
                    f"{where}.key is missing or empty: every row needs the caller's "
                    "key for it (a unique string). Nothing was sent.",
                    fields=[f"{where}.key"],
                )
            if key in seen:
                raise InvalidVideoRequestError(
                    f"{where}.key {key[:100]!r} is also the key of requests[{seen[key]}]: keys must be unique "
                    "(each row's video is created once per key). Nothing was sent.",
                    fields=[f"{where}.key"],
                )
            seen[key] = index
            body = {name: value for name, value in fields.items() if name != "key"}
            # Named after its key unless named: a create whose answer is lost is found by name.
            if body.get("video_name") is None:
                body["video_name"] = key
            if body.get("replica_id") not in (None, replica_id):
                raise InvalidVideoRequestError(
                    f"{where}.replica_id differs from the batch's replica_id; "
                    "one batch uses one replica. Nothing was sent.",
                    fields=[f"{where}.replica_id"],
                )
            try:
                request = VideoCreateRequest.model_validate({**body, "replica_id": replica_id})
            except InvalidCreateRequestError as exc:
                named = [f"{where}.{field}" for field in exc.fields]
                raise InvalidVideoRequestError(
                    f"{where} (key {key[:100]!r}): {exc}", fields=named
                ) from None
            parsed.append(cls(key=key, request=request))
        return parsed
