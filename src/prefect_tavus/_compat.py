"""Which Prefect prefect-tavus needs, checked before any of its Prefect code is imported.

pip enforces the declared range at install time; this catches the environments pip did
not build (a Prefect upgraded or downgraded afterwards, a source checkout on the path),
where the alternative is an ImportError or AttributeError from deep inside Prefect that
names nothing the user can act on.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version

__all__ = ["PREFECT_BELOW", "PREFECT_LOWEST", "PrefectVersionError", "require_prefect"]

#: The lowest Prefect the test suite runs on in CI, and the next major, which is excluded.
#: pyproject.toml declares the same range (a unit test keeps them in step).
PREFECT_LOWEST = (3, 8, 8)
PREFECT_BELOW = (4,)

_REQUIREMENT = f"prefect>={'.'.join(map(str, PREFECT_LOWEST))},<{'.'.join(map(str, PREFECT_BELOW))}"


class PrefectVersionError(ImportError):
    """Prefect is missing, or outside the range prefect-tavus supports."""


def _release(text: str) -> tuple[int, ...]:
    """``"3.9.1"`` -> (3, 9, 1); ``"3.10.0rc1"`` -> (3, 10, 0): the numeric release part."""
    parts = []
    for piece in text.split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
        if match.end() != len(piece):
            break
    return tuple(parts)


def require_prefect() -> str:
    """Return the installed Prefect version, or raise :class:`PrefectVersionError` saying
    which one to install."""
    try:
        installed = version("prefect")
    except PackageNotFoundError:
        raise PrefectVersionError(
            f"prefect-tavus needs Prefect ({_REQUIREMENT}), which is not installed: "
            f"pip install '{_REQUIREMENT}'. (prefect_tavus.core works without Prefect.)"
        ) from None
    release = _release(installed)
    if not PREFECT_LOWEST <= release < PREFECT_BELOW:
        raise PrefectVersionError(
            f"prefect-tavus needs {_REQUIREMENT}, but Prefect {installed} is installed: "
            f"pip install '{_REQUIREMENT}'."
        )
    return installed
