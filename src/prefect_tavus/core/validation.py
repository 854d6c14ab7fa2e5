"""Checks on user input, run before any request is sent.

A replica or video id goes into a URL path. One with ``/``, ``..``, ``?`` or ``#`` would address
another endpoint (or nothing), so it is refused with a message saying what is wrong
rather than sent and answered with a confusing 400 or, worse, a 200 from another route.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from prefect_tavus.core.errors import (
    InsecureTransportError,
    InvalidReplicaIdError,
    InvalidVideoIdError,
    TavusError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "is_loopback_host",
    "validate_base_url",
    "validate_replica_id",
    "validate_replica_ids",
    "validate_video_id",
    "validate_video_ids",
]

DEFAULT_BASE_URL = "https://tavusapi.com"
_MAX_ID_LENGTH = 128
_FORBIDDEN = {
    "/": "a slash",
    "\\": "a backslash",
    "?": "a '?'",
    "#": "a '#'",
    "%": "a '%'",
    ",": "a comma",
}


def _validate_id(
    value: object, *, name: str, kind: str, example: str, error: type[TavusError]
) -> str:
    """The one id rule, for every kind of Tavus id that goes into a URL path.

    It does not insist on a shape (Tavus may change it) but refuses anything that is not a
    plain, single path segment; ``kind`` and ``example`` only word the messages.
    """
    pass_one = f"a Tavus {kind} id such as {example!r}"
    if not isinstance(value, str):
        raise error(f"{name} must be a string ({pass_one}), got {type(value).__name__}.")
    if not value.strip():
        raise error(f"{name} is empty; pass {pass_one}.")
    if value != value.strip():
        raise error(f"{name} {value!r} has leading or trailing whitespace; remove it.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise error(f"{name} {value!r} contains control characters; pass {pass_one}.")
    if any(ch.isspace() for ch in value):
        raise error(f"{name} {value!r} contains whitespace; pass {pass_one}.")
    if value in (".", "..") or ".." in value:
        raise error(f"{name} {value!r} contains '..', which would change the URL path.")
    for char, label in _FORBIDDEN.items():
        if char in value:
            raise error(f"{name} {value!r} contains {label}; pass {pass_one}.")
    if len(value) > _MAX_ID_LENGTH:
        raise error(
            f"{name} is {len(value)} characters long; Tavus {kind} ids are short, like {example!r}."
        )
    return value


def validate_replica_id(value: object, *, name: str = "replica_id") -> str:
    """Return ``value`` if it can be a Tavus replica id, else raise InvalidReplicaIdError.

    Tavus ids look like ``rf4e9d9790f0``; this does not insist on that shape (Tavus may
    change it) but refuses anything that is not a plain, single path segment.
    """
    return _validate_id(
        value, name=name, kind="replica", example="rf4e9d9790f0", error=InvalidReplicaIdError
    )


def validate_video_id(value: object, *, name: str = "video_id") -> str:
    """Return ``value`` if it can be a Tavus video id, else raise InvalidVideoIdError.

    Tavus's API reference shows a short lowercase alphanumeric id without the replicas'
    ``r`` prefix (``abcd123``; hosted at ``https://tavus.video/abcd123``). As for replicas,
    the shape is not insisted on, only that the id is one plain path segment: the same
    rule, so the two cannot drift apart.
    """
    return _validate_id(
        value, name=name, kind="video", example="abcd123", error=InvalidVideoIdError
    )


def _validate_ids(
    values: object, name: str, rule: Callable[..., str], error: type[Exception], single: str
) -> list[str]:
    """Validate a collection of ids by ``rule``; refuse a bare string (a common slip) and
    empty lists, with ``error`` naming ``name``."""
    noun = name.removesuffix("_ids")
    if isinstance(values, str):
        raise error(
            f"{name} must be a list of ids, not one string; for a single {noun} pass "
            f"[{values!r}] or use {single}."
        )
    try:
        items = list(values)  # type: ignore[call-overload]  # any object: what list() refuses is caught
    except TypeError:
        raise error(f"{name} must be a list of ids, got {type(values).__name__}.") from None
    if not items:
        raise error(f"{name} is empty; pass at least one {noun} id.")
    return [rule(item, name=f"{name}[{index}]") for index, item in enumerate(items)]


def validate_replica_ids(values: object) -> list[str]:
    """Validate a collection of replica ids; refuse a bare string and empty lists."""
    return _validate_ids(
        values, "replica_ids", validate_replica_id, InvalidReplicaIdError, "wait_for_replica"
    )


def validate_video_ids(values: object) -> list[str]:
    """Validate a collection of video ids; refuse a bare string and empty lists."""
    return _validate_ids(
        values, "video_ids", validate_video_id, InvalidVideoIdError, "wait_for_video"
    )


#: The one loopback network of IPv4, and the one loopback address of IPv6.
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (bracketed or not), and nothing else.

    Plain http is allowed only where this says yes, and the API key (or a callback token)
    then crosses in clear text, so it must be sure the bytes never leave the machine. A
    name is not: ``foo.localhost`` is loopback by RFC 6761 only if every resolver on the
    way honours that, and many hand it to DNS, which may answer anything. ``localhost.``
    (the absolute name, trailing dot) is refused for the same reason: resolvers may skip
    the hosts file for absolute names. Zoned (``::1%lo``) and IPv4-mapped
    (``::ffff:127.0.0.1``) spellings are refused too: nobody needs them for a local
    simulator, and each extra spelling is one more to get wrong.
    """
    if not isinstance(host, str):
        return False
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address in _LOOPBACK_V4
    return address == _LOOPBACK_V6  # a zone id (``::1%lo``) makes it unequal


def validate_base_url(value: object, *, name: str = "base_url") -> str:
    """Return the normalised base URL, or refuse one that could leak the key.

    Only ``https`` is accepted, except plain ``http`` to a loopback host (the local
    simulator): anywhere else the API key would cross the network in clear text. ``name``
    is the field the message names (the callback receiver's URL carries a token, which
    must not cross in clear text either).
    """
    if not isinstance(value, str) or not value.strip():
        raise InsecureTransportError(f"{name} must be a URL such as {DEFAULT_BASE_URL!r}.")
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InsecureTransportError(
            f"{name} {value!r} is not an http(s) URL; use {DEFAULT_BASE_URL!r} for Tavus."
        )
    if not parts.hostname:
        raise InsecureTransportError(
            f"{name} {value!r} has no host; use {DEFAULT_BASE_URL!r} for Tavus."
        )
    if parts.username or parts.password:
        raise InsecureTransportError(f"{name} must not carry credentials; put the key in api_key.")
    if parts.query or parts.fragment:
        raise InsecureTransportError(f"{name} {value!r} must not have a query or fragment.")
    if scheme == "http" and not is_loopback_host(parts.hostname):
        raise InsecureTransportError(
            f"{name} {value!r} uses plain http to a non-loopback host, which would send the "
            "API key unencrypted; use https (plain http is allowed only for localhost, 127.0.0.0/8 and [::1])."
        )
    return f"{scheme}://{parts.netloc}{parts.path}".rstrip("/")
