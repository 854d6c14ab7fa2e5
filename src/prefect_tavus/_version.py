"""The version of prefect-tavus, said once: pyproject.toml reads it from here at build time
(``[tool.setuptools.dynamic]``), so the installed metadata, the ``User-Agent`` the client
sends and ``prefect-tavus --version`` always agree, installed or not."""

__version__ = "0.2.0"
