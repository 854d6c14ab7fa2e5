"""The ``prefect-tavus`` command: one entry point, one subcommand per job.

``prefect-tavus simulator [options]`` serves the local Tavus simulator (the same options as
``python -m prefect_tavus.simulator``); ``prefect-tavus callbacks [options]`` runs the
callback receiver that resumes suspended waits (:mod:`prefect_tavus.callbacks`). Each
subcommand is a :class:`Subcommand` in :data:`SUBCOMMANDS`: a name, a one-line summary, a function that adds its options to its
parser, and a function that runs it; :func:`from_module` makes one from a module that
defines ``add_arguments`` and ``run``. Adding one is one entry; nothing else here changes.

The functions import what they need when called, so ``prefect-tavus --help`` stays fast and
this module never imports Prefect (a subcommand that needs Prefect imports it in its own
functions).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "from_module", "main"]

#: Adds a subcommand's options to the parser made for it.
AddArguments = Callable[[argparse.ArgumentParser], None]

#: Runs a subcommand with its parsed options; returns the exit status. It gets its own
#: parser to report bad option combinations with ``parser.error`` (exit status 2).
Run = Callable[[argparse.Namespace, argparse.ArgumentParser], int]


@dataclass(frozen=True)
class Subcommand:
    """One ``prefect-tavus <name>`` subcommand.

    Attributes:
        name: what the user types after ``prefect-tavus``.
        summary: one line, shown in ``prefect-tavus --help``.
        add_arguments: adds the subcommand's options to its parser.
        run: runs it and returns the process exit status.
        description: longer text for ``prefect-tavus <name> --help`` (``summary`` if empty).
    """

    name: str
    summary: str
    add_arguments: AddArguments
    run: Run
    description: str = ""


def from_module(name: str, module: str, summary: str, description: str = "") -> Subcommand:
    """A subcommand whose ``add_arguments(parser)`` and ``run(args, parser)`` live in
    ``module``, imported only when the subcommand is used (or its help is built)."""

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        importlib.import_module(module).add_arguments(parser)

    def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        return int(importlib.import_module(module).run(args, parser))

    return Subcommand(name, summary, add_arguments, run, description)


SIMULATOR = from_module(
    "simulator",
    "prefect_tavus.simulator.cli",
    summary="serve a local fake of the Tavus Replicas API",
    description=(
        "Serve a local fake of the Tavus Replicas API until interrupted (Ctrl-C or SIGTERM). "
        "Same options as `python -m prefect_tavus.simulator`."
    ),
)

CALLBACKS = from_module(
    "callbacks",
    "prefect_tavus.callbacks.server",
    summary="resume suspended waits on Tavus's training and video callbacks",
    description=(
        "Receive Tavus's training and video callbacks (POST /tavus/callbacks/<token>) and resume the "
        "suspended Prefect runs waiting on those replicas or videos. The token comes from TAVUS_CALLBACK_TOKEN or a Prefect "
        "Secret block (--token-secret-block); the Prefect API from PREFECT_API_URL. It needs no Tavus API key."
    ),
)

#: Every subcommand, in the order ``--help`` lists them. Add new ones here.
SUBCOMMANDS: tuple[Subcommand, ...] = (SIMULATOR, CALLBACKS)


# -- the command ----------------------------------------------------------------------------


def build_parser(subcommands: Sequence[Subcommand] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """The ``prefect-tavus`` parser, with one subparser per entry of ``subcommands``.

    Raises:
        ValueError: two subcommands share a name.
    """
    from prefect_tavus._version import __version__

    names = [command.name for command in subcommands]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate prefect-tavus subcommands: {', '.join(duplicates)}")

    parser = argparse.ArgumentParser(
        prog="prefect-tavus",
        description="Command line tools of prefect-tavus, the Prefect integration for Tavus.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="subcommands", dest="command", metavar="<command>")
    for command in subcommands:
        subparser = commands.add_parser(
            command.name, help=command.summary, description=command.description or command.summary
        )
        command.add_arguments(subparser)
        subparser.set_defaults(_subcommand=command, _subparser=subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``prefect-tavus``; returns the process exit status (the console script's)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Subcommand | None = getattr(args, "_subcommand", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    return command.run(args, args._subparser)


if __name__ == "__main__":  # pragma: no cover - ``python -m prefect_tavus.cli``
    sys.exit(main())
