"""Prefect blocks of prefect-tavus. ``from blocks import TavusCredentials``."""

from blocks._limits import GLOBAL_LIMIT_NAME, forget_limit_lookup
from blocks.credentials import API_KEY_ENV_VAR, CredentialsInput, TavusCredentials, aresolve_credentials

__all__ = ["GLOBAL_LIMIT_NAME", "forget_limit_lookup", "API_KEY_ENV_VAR", "CredentialsInput", "TavusCredentials", "aresolve_credentials"]
