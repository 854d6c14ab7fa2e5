"""Prefect blocks of prefect-tavus. ``from blocks import TavusCredentials``."""

from blocks.credentials import API_KEY_ENV_VAR, TavusCredentials, aresolve_credentials

__all__ = ["API_KEY_ENV_VAR", "TavusCredentials", "aresolve_credentials"]
