"""The Tavus callback receiver (``prefect-tavus callbacks``).

Tavus POSTs to a replica's ``callback_url`` when training ends, and to a video's when
the video is ready or fails. The receiver accepts those POSTs on
``/tavus/callbacks/<token>`` and resumes the suspended Prefect runs waiting on that
replica or that video (see ``prefect_tavus.suspension``); conversation callbacks are
answered and ignored. Callbacks are recorded as Prefect events (``tavus.replica.callback``,
``tavus.video.callback``), so every receiver, restart and sweep sees the same ones. A callback is
only a hint: the resumed wait confirms with Tavus before anything acts on it, which is why
the receiver holds no Tavus API key. Modules: :mod:`.app` (HTTP), :mod:`.payload`
(parsing), :mod:`.store` (what one process holds until Prefect has it), :mod:`.events`
(the record in Prefect), :mod:`.resumer` (passes: write, read, resume),
:mod:`.connections` (idle-connection timeout), :mod:`.server` (the command).
"""

from prefect_tavus.callbacks.app import MAX_BODY_BYTES, MIN_TOKEN_LENGTH, create_app, validate_token
from prefect_tavus.callbacks.payload import BadCallback, ParsedCallback, parse_callback
from prefect_tavus.callbacks.resumer import Resumer, ResumerSettings
from prefect_tavus.callbacks.store import CallbackStore, StoredCallback

__all__ = [
    "MAX_BODY_BYTES",
    "MIN_TOKEN_LENGTH",
    "BadCallback",
    "CallbackStore",
    "ParsedCallback",
    "Resumer",
    "ResumerSettings",
    "StoredCallback",
    "create_app",
    "parse_callback",
    "validate_token",
]
