"""The poll tasks of a wait: one poll round, and one confirming GET, as Prefect task runs.

Made once per kind from the kind's registry entry (:mod:`prefect_tavus.core.kinds`), so a
kind needs no task code of its own: ``poll_replicas`` / ``confirm_replica`` for replicas,
``poll_videos`` / ``confirm_video`` for videos. A round asks Tavus about every resource
still pending the way its kind reads many at once (``read_many``: for replicas a filtered
list, a page of ids per request; for videos list pages or GETs, see
``core/video_polling.py``). However many are waited on, a round is one task run, not one
per resource. What it learnt comes back as a :class:`~prefect_tavus.core.waiting.PollRound`:
found, missing, or failed.

A transient failure is returned, not raised: during an outage the wait decides (within
its time budget) and logs once, instead of Prefect logging an error per failed poll.
Permanent failures (key refused, bad request) raise and end the wait at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import DEFAULT_PAGE_SIZE
from prefect_tavus.core.kinds import KINDS, REPLICAS, VIDEOS, ResourceKind
from prefect_tavus.core.waiting import PollRound

__all__ = [
    "PollTasks",
    "confirm_replica",
    "confirm_video",
    "poll_replicas",
    "poll_tasks",
    "poll_videos",
]


def _names(kind: ResourceKind) -> tuple[str, str]:
    return f"poll_{kind.plural_noun}", f"confirm_{kind.noun}"


_QUIET_TASKS = frozenset(name for kind in KINDS for name in _names(kind))


class _QuietPollRounds(logging.Filter):
    """Drop Prefect's per-run INFO lines ("Finished in state Completed()") for poll rounds.

    A wait of hours makes dozens of rounds; the wait itself logs what changes. Poll task
    runs still show in the UI with their states, and their warnings and errors still log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno <= logging.INFO and getattr(record, "task_name", None) in _QUIET_TASKS
        )


if not any(isinstance(f, _QuietPollRounds) for f in logging.getLogger("prefect.task_runs").filters):
    logging.getLogger("prefect.task_runs").addFilter(_QuietPollRounds())


@dataclass(frozen=True)
class PollTasks:
    """A kind's two tasks: ``poll(ids, tavus_credentials, round_number=, page_size=)`` and
    ``confirm(resource_id, tavus_credentials)``, both returning a ``PollRound``."""

    poll: Any
    confirm: Any


def _named(fn: Callable[..., Awaitable[PollRound]], name: str, doc: str) -> Any:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


_MADE: dict[str, PollTasks] = {}


def poll_tasks(kind: ResourceKind) -> PollTasks:
    """The poll and confirm tasks of ``kind`` (made once per kind)."""
    if kind.kind not in _MADE:
        _MADE[kind.kind] = _make(kind)
    return _MADE[kind.kind]


def _make(kind: ResourceKind) -> PollTasks:
    poll_name, confirm_name = _names(kind)

    async def poll(
        ids: list[str],
        tavus_credentials: TavusCredentials,
        round_number: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> PollRound:
        return await kind.read_many(tavus_credentials.get_client(), ids, page_size)

    async def confirm(resource_id: str, tavus_credentials: TavusCredentials) -> PollRound:
        client = tavus_credentials.get_client()
        return await PollRound.of_one(resource_id, lambda rid: kind.read_one(client, rid))

    poll_doc = f"""Ask Tavus once about every id in ``ids`` ({kind.plural_noun}, already validated).

    Args:
        ids: the {kind.plural_noun} still pending.
        tavus_credentials: the wait's ``TavusCredentials`` block.
        round_number: the round's number in the wait (names the task run).
        page_size: {kind.plural_noun} per list request.

    Returns:
        A ``PollRound``: what was found, what was missing (with Tavus's answer when asked
        for alone), or the transient failure that kept Tavus from answering.

    Raises:
        TavusAuthenticationError: the key was refused (permanent faults are raised).
    """
    confirm_doc = f"""One confirming GET of a poll round (a failed {kind.noun}'s reason, or an id a
    list left out), as its own task run so the UI shows it.

    Not retried, unlike ``get_{kind.noun}``: the wait that asks decides, within its outage
    budget, deadline and cancellation. So nothing is raised for Tavus's answers: found,
    not found (400/404) and transient failures all come back as a ``PollRound``.

    Args:
        resource_id: the {kind.noun}'s id (already validated).
        tavus_credentials: the wait's ``TavusCredentials`` block.

    Returns:
        A ``PollRound`` about that one {kind.noun}.
    """
    return PollTasks(
        poll=task(
            name=poll_name, task_run_name="poll-{round_number}", cache_policy=NO_CACHE, retries=0
        )(_named(poll, poll_name, poll_doc)),
        confirm=task(
            name=confirm_name,
            task_run_name=f"get-{kind.noun}-{{resource_id}}",
            cache_policy=NO_CACHE,
            retries=0,
        )(_named(confirm, confirm_name, confirm_doc)),
    )


#: The replicas' and the videos' tasks, by their names.
poll_replicas, confirm_replica = poll_tasks(REPLICAS).poll, poll_tasks(REPLICAS).confirm
poll_videos, confirm_video = poll_tasks(VIDEOS).poll, poll_tasks(VIDEOS).confirm
