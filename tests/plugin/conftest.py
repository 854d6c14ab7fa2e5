"""Load pytest's own ``pytester`` plugin for the plugin tests.

Not with ``pytest_plugins = ["pytester"]``: pytest refuses that in a conftest below the
root one whenever the whole suite is run (``pytest`` from the project root), and
tests/conftest.py is not ours to change. Registering it when this conftest is configured
works for every invocation and has the same effect.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
