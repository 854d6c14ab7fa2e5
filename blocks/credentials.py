"""``TavusCredentials``: the Prefect block that holds the Tavus API key.

The block is the only place the key is stored: flows and tasks take the block (or the
name of a saved one), never the key, so the key stays out of flow-run parameters, task
inputs and logs. ``get_client()`` hands out the one configured HTTP client.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from typing import Any

from prefect.blocks.abstract import CredentialsBlock
from prefect.client.schemas.objects import BlockDocument
from pydantic import Field, SecretStr, field_validator

from prefect_tavus.blocks._limits import tavus_api_slot
from prefect_tavus.core import (
    DEFAULT_BASE_URL,
    TavusClient,
    TavusConfigurationError,
    validate_base_url,
)
from prefect_tavus.core.contract import CALLBACK_PATH, CALLBACK_TOKEN_ENV_VAR, callback_url

__all__ = [
    "API_KEY_ENV_VAR",
    "CALLBACK_PATH",
    "CALLBACK_TOKEN_ENV_VAR",
    "CredentialsInput",
    "TavusCredentials",
    "aresolve_credentials",
]

API_KEY_ENV_VAR = "TAVUS_API_KEY"

# One client per (credentials, event loop): httpx pools are bound to the loop that made
# them, and one pool per loop lets every task of a flow run reuse the same connections.
_CLIENTS: weakref.WeakKeyDictionary[
    AbstractEventLoop, dict[tuple[str, str, float], TavusClient]
] = weakref.WeakKeyDictionary()


class TavusCredentials(CredentialsBlock):
    """Credentials for the Tavus API: the API key, and where and how to reach the API.

    Leave ``api_key`` empty to read ``TAVUS_API_KEY`` from the environment of the process
    that runs the flow (handy on workers); a key saved in the block is stored encrypted
    by Prefect and shown as ``**********`` everywhere.

    Example:
        Load stored Tavus credentials and fetch a replica:
        ```python
        from prefect_tavus.blocks import TavusCredentials

        tavus_credentials_block = TavusCredentials.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "Tavus Credentials"
    _block_type_slug = "tavus-credentials"
    # The avatar of Tavus's own GitHub organisation (Tavus-Engineering, home of its official
    # examples), served by GitHub: square, at the size asked for (256 px), and not tied to
    # the layout of Tavus's website. Prefect's UI shows a broken image if a logo URL stops
    # working (there is no fallback icon), so a durable URL matters.
    _logo_url = "https://github.com/Tavus-Engineering.png?size=256"  # type: ignore[assignment]  # Block types it HttpUrl; Prefect's own blocks give a str
    _description = (
        "Stores a Tavus API key and connection settings, and gives tasks and flows an "
        "HTTP client for the Tavus Replicas and Videos APIs."
    )
    _documentation_url = "https://docs.tavus.io/api-reference/phoenix-replica-model/get-replica"  # type: ignore[assignment]  # Block types it HttpUrl; Prefect's own blocks give a str

    # Not Optional: Prefect's forms render `SecretStr | None` as a "password | null" switch;
    # a plain SecretStr is one password field. Empty means "use TAVUS_API_KEY", and blocks
    # saved with `null` (earlier versions) still load (`_none_is_empty`).
    api_key: SecretStr = Field(
        default_factory=lambda: SecretStr(""),
        title="API Key",
        description=(
            "Tavus API key, sent as the x-api-key header. Leave it empty to use the "
            "TAVUS_API_KEY environment variable of the process that runs the flow (e.g. set "
            "on your workers)."
        ),
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        title="Base URL",
        description=(
            "Root of the Tavus API. Must be https, except http to 127.0.0.1 or localhost "
            "(the local Tavus simulator)."
        ),
    )
    request_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        title="Request Timeout (seconds)",
        description="Seconds to wait for Tavus to connect and to answer each request.",
    )

    min_poll_spacing_seconds: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        title="Minimum Poll Spacing (seconds)",
        description=(
            "Polls made with this key, by all waits in one process together, are at least "
            "this far apart. Use a Prefect global concurrency limit named tavus-api to limit "
            "requests across processes."
        ),
    )

    callback_base_url: str | None = Field(
        default=None,
        title="Callback Base URL",
        description=(
            "Public base URL of the callback receiver (prefect-tavus callbacks), e.g. "
            "https://hooks.example.com. When set, create-and-wait runs with release_worker "
            "ask Tavus to POST there when training ends. https, or http to 127.0.0.1/localhost."
        ),
    )
    callback_token: SecretStr | None = Field(
        default=None,
        title="Callback Token",
        description=(
            "Unguessable token the receiver expects as the last part of the callback URL. "
            "Leave empty to read the TAVUS_CALLBACK_TOKEN environment variable where the flow runs."
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        return validate_base_url(value)

    @field_validator("callback_base_url")
    @classmethod
    def _check_callback_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        # The same rules as base_url: a token in clear text is as bad as a key.
        return validate_base_url(value, name="callback_base_url")

    def callback_url(self) -> SecretStr | None:
        """The URL Tavus should POST to when training ends, or None when no receiver is
        configured. A ``SecretStr``: the token in it must never be logged or stored in a
        run's parameters.

        Raises:
            TavusConfigurationError: a receiver URL is set but there is no token.
        """
        if self.callback_base_url is None:
            return None
        token = (
            self.callback_token.get_secret_value().strip()
            if self.callback_token is not None
            else ""
        )
        token = token or os.environ.get(CALLBACK_TOKEN_ENV_VAR, "").strip()
        if not token:
            raise TavusConfigurationError(
                "callback_base_url is set but there is no callback token: set callback_token on the "
                f"TavusCredentials block or export {CALLBACK_TOKEN_ENV_VAR} where the flow runs "
                "(the same token the receiver is started with)."
            )
        try:  # the receiver's rule, checked here so that a token it would refuse is never sent
            return SecretStr(callback_url(self.callback_base_url, token))
        except ValueError as exc:
            raise TavusConfigurationError(f"Unusable callback token: {exc}.") from None

    @field_validator("api_key", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value

    def _to_block_document(self, *args: Any, **kwargs: Any) -> BlockDocument:
        """Save an empty key as null: Prefect masks any saved secret as ``********``, and an
        empty one would then look like a key in the UI. Null shows as "None" and loads as empty."""
        document = super()._to_block_document(*args, **kwargs)
        if not self.api_key.get_secret_value() and isinstance(document.data, dict):
            document.data["api_key"] = None
        return document

    def resolved_api_key(self) -> SecretStr:
        """The key to use: the block's own, else ``TAVUS_API_KEY``; raise if neither."""
        if self.api_key.get_secret_value().strip():
            return self.api_key
        from_env = os.environ.get(API_KEY_ENV_VAR, "").strip()
        if from_env:
            return SecretStr(from_env)
        raise TavusConfigurationError(
            "No Tavus API key: set api_key on the TavusCredentials block "
            "(e.g. TavusCredentials(api_key=...).save('tavus')) or export "
            f"{API_KEY_ENV_VAR} where the flow runs. Keys are made at https://platform.tavus.io."
        )

    def key_fingerprint(self) -> str:
        """A short, non-reversible id of the key, to group work by key without holding it."""
        return hashlib.sha256(self.resolved_api_key().get_secret_value().encode()).hexdigest()[:16]

    def new_client(self) -> TavusClient:
        """A new client that the caller owns and must close (``async with``)."""
        return TavusClient(
            self.resolved_api_key(),
            base_url=self.base_url,
            timeout=self.request_timeout_seconds,
            request_slot=tavus_api_slot,
        )

    def get_client(self) -> TavusClient:
        """The shared client for these credentials in the running event loop.

        Every task of a flow run gets the same client, and so one keep-alive connection
        pool, instead of a client (and a TLS handshake) per request. Call it from async
        code; sync callers go through the tasks, which run the async core.
        """
        cache_key = (self.key_fingerprint(), self.base_url, self.request_timeout_seconds)
        clients = _CLIENTS.setdefault(get_running_loop(), {})
        client = clients.get(cache_key)
        if client is None or client.is_closed:
            client = clients[cache_key] = self.new_client()
        return client


#: What flows and tasks accept for ``tavus_credentials``: a block, a saved block's name,
#: or None for the defaults with ``TAVUS_API_KEY``.
CredentialsInput = TavusCredentials | str | None


async def aresolve_credentials(value: CredentialsInput) -> TavusCredentials:
    """A block from a block, a saved block's name, or None (defaults + ``TAVUS_API_KEY``).

    Deployments pass the name, so runs started from the UI or an automation need no
    Python object.
    """
    if isinstance(value, TavusCredentials):
        return value
    if value is None:
        return TavusCredentials()
    if isinstance(value, str):
        if not value.strip():
            raise TavusConfigurationError(
                "tavus_credentials is an empty name; pass a saved block's name."
            )
        try:
            return await TavusCredentials.aload(value)
        except ValueError as exc:
            raise TavusConfigurationError(
                f"No saved TavusCredentials block named {value!r}: create it with "
                f"`TavusCredentials(api_key=...).save({value!r})` or in the Prefect UI ({exc})."
            ) from None
    raise TavusConfigurationError(
        f"tavus_credentials must be a TavusCredentials block or a saved block's name, got {type(value).__name__}."
    )
