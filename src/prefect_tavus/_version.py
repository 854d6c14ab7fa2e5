"""The installed version of prefect-tavus (falls back to the source tree's)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prefect-tavus")
except PackageNotFoundError:  # running from a checkout that was not pip-installed
    __version__ = "0.1.0"
