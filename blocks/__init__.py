"""Prefect blocks of prefect-tavus (``prefect_tavus.blocks``); the public names are also importable
from ``prefect_tavus`` itself."""

from prefect_tavus._compat import require_prefect

require_prefect()

# isort: split
from prefect_tavus.blocks._limits import GLOBAL_LIMIT_NAME, forget_limit_lookup
from prefect_tavus.blocks.credentials import (
    API_KEY_ENV_VAR,
    CALLBACK_TOKEN_ENV_VAR,
    CredentialsInput,
    TavusCredentials,
    aresolve_credentials,
)

__all__ = [
    "API_KEY_ENV_VAR",
    "CALLBACK_TOKEN_ENV_VAR",
    "GLOBAL_LIMIT_NAME",
    "CredentialsInput",
    "TavusCredentials",
    "aresolve_credentials",
    "forget_limit_lookup",
]
