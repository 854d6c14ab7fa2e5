"""The words the simulated API answers in: ``replicas`` (the seed's docs) or ``faces``.

Tavus's newest docs call a replica a *face*: ``face_id``, ``face_name`` and ``face_type``
in place of ``replica_id``, ``replica_name`` and ``replica_type``, with statuses, progress
and the ``r…`` ids unchanged. A client must read answers in either vocabulary, so the
simulator can speak either. Only answers (and callbacks) change: the ``/v2/replicas``
routes and the request bodies they take stay as they are, as Tavus says they still work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["FACE_NAMES", "VOCABULARIES", "Vocabulary", "in_vocabulary", "validate_vocabulary"]

Vocabulary = Literal["replicas", "faces"]

#: Every vocabulary, in the spelling the constructor and the command line take.
VOCABULARIES: tuple[Vocabulary, ...] = ("replicas", "faces")

#: The face vocabulary's name of each field that has one.
FACE_NAMES: Mapping[str, str] = {
    "replica_id": "face_id",
    "replica_name": "face_name",
    "replica_type": "face_type",
}


def validate_vocabulary(value: object) -> Vocabulary:
    """Return ``value`` if it names a vocabulary.

    Raises:
        ValueError: anything else; the message lists the choices.
    """
    if value == "replicas":
        return "replicas"
    if value == "faces":
        return "faces"
    raise ValueError(f"vocabulary must be one of {', '.join(VOCABULARIES)}, got {value!r}")


def in_vocabulary(payload: dict[str, Any], vocabulary: Vocabulary) -> dict[str, Any]:
    """``payload`` (written with replica names) in ``vocabulary``; key order is kept."""
    if vocabulary == "replicas":
        return payload
    return {FACE_NAMES.get(key, key): value for key, value in payload.items()}
