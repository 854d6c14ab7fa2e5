"""``resume_waits``: the sweep that resumes suspended waits (of every kind: replicas and
videos), callback or not. ``resume_replica_waits`` is its old name, kept for deployments.

Tavus's callbacks are unsigned and best effort (no retries are documented), a receiver
can be down, and a worker behind a firewall cannot receive them at all. The sweep makes
waits correct without them: on a schedule (``prefect.yaml``: every 10 minutes) it finds
every suspended wait, asks Tavus about everything they wait for, one kind at a time and
the way that kind's waits read many at once (replicas: one request per 100, however many
waits), and resumes each run whose resources have all finished or whose deadline passed. The resumed run checks for itself, so a sweep that resumes too
eagerly costs a request, never a wrong result.

Safe to run twice at once (the server resumes a suspended run once; the other resume is
refused and counted as done by someone else) and on an empty set (no suspended wait: no
request to Tavus at all).

It ends what must end, whatever Tavus answers: runs whose deadline passed are resumed
first, from their records alone, before Tavus is asked anything. A record that does not
parse is skipped with a WARNING naming its run. A transient Tavus fault skips the status
check (the next sweep tries again). A permanent one (a refused or IP-restricted key, a
block name that does not exist) still fails the sweep run loudly, so that a user sees
it, but only after the deadline-passed waits were resumed.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client as get_prefect_client
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync

from prefect_tavus.blocks import CredentialsInput, TavusCredentials, aresolve_credentials
from prefect_tavus.core import DEFAULT_PAGE_SIZE, count_requests
from prefect_tavus.core.kinds import KINDS, ResourceKind, kind_of
from prefect_tavus.core.text import plural, printable
from prefect_tavus.suspension import SuspendedWait, find_suspended_waits, resume_if_still_waiting

__all__ = [
    "aresume_replica_waits",
    "aresume_waits",
    "resume_replica_waits",
    "resume_waits",
    "waits_to_resume",
]


def waits_to_resume(
    waits: list[SuspendedWait], finished: set[tuple[str, str]] | None, now: float
) -> list[tuple[SuspendedWait, str]]:
    """The waits to resume and why: everything they wait for finished, or the deadline
    passed (deadline-passed waits first: they are resumed before Tavus is asked anything).

    ``finished`` is the (kind, id) pairs Tavus reported as finished, or missing from its
    answer (deleted or mistyped; the resumed run tells which); None when Tavus could not
    be asked, so that only deadlines count.
    """
    due = [(wait, "deadline passed") for wait in waits if wait.deadline_passed(now)]
    done = [
        (wait, f"all {kind_of(wait.kind).plural_noun} finished")
        for wait in waits
        if not wait.deadline_passed(now)
        and finished is not None
        and all((wait.kind, resource_id) in finished for resource_id in wait.ids)
    ]
    return due + done


class _Counts:
    def __init__(self) -> None:
        self.resumed = self.already = 0


async def _resume(
    prefect: Any, chosen: list[tuple[SuspendedWait, str]], counts: _Counts, logger: Any
) -> None:
    for wait, why in chosen:
        if await resume_if_still_waiting(prefect, wait):
            counts.resumed += 1
            logger.info(
                "Resumed %s (%s): %s.",
                wait.flow_run_name,
                kind_of(wait.kind).count(len(wait.ids)),
                why,
            )
        else:
            counts.already += 1


async def _finished(
    credentials: TavusCredentials,
    kind: ResourceKind[Any],
    ids: list[str],
    page_size: int,
    logger: Any,
) -> set[str] | None:
    """The ids among ``ids`` (of ``kind``) that Tavus reports finished, or does not report
    at all; None when a transient fault kept Tavus from answering. Read the way the wait
    engine reads that kind (``kind.read_many``).

    Raises:
        TavusError: permanent (key refused...). The caller re-raises it after the
            deadline-passed waits were resumed.
    """
    polled = await kind.read_many(credentials.get_client(), ids, page_size)
    if polled.failed is not None:
        logger.warning(
            "Could not ask Tavus about %s (%s); only deadlines count this time.",
            kind.count(len(ids)),
            printable(polled.failed, 300),
        )
        return None
    return {
        resource_id
        for resource_id in ids
        if resource_id in polled.missing
        or resource_id not in polled.found
        or polled.found[resource_id].is_terminal
    }


async def _sweep(tavus_credentials: CredentialsInput, page_size: int) -> dict[str, Any]:
    logger = get_run_logger()
    unreadable: list[str] = []

    def skip(flow_run: Any, error: Exception) -> None:
        unreadable.append(str(flow_run.id))
        logger.warning(
            "Skipped a suspended run whose wait record does not parse: %s. "
            "Fix its tavus.wait.* labels or cancel it.",
            printable(error, 400),
        )

    counts = _Counts()
    permanent: Exception | None = None
    requests = [0]
    checked: dict[str, list[str]] = {kind.kind: [] for kind in KINDS}
    async with get_prefect_client() as prefect:
        waits = await find_suspended_waits(prefect, on_unreadable=skip)
        now = time.time()
        # Deadlines first, from the records alone: nothing Tavus answers can keep them waiting.
        await _resume(
            prefect, [(w, why) for w, why in waits_to_resume(waits, None, now)], counts, logger
        )
        going = [wait for wait in waits if not wait.deadline_passed(now)]
        credentials: TavusCredentials | None = None
        if waits:
            try:  # a block that cannot be loaded fails the sweep, after the deadlines
                credentials = await aresolve_credentials(tavus_credentials)
            except Exception as exc:
                permanent = exc
        if going and credentials is not None:
            finished: set[tuple[str, str]] | None = set()
            with count_requests() as requests:
                try:
                    for kind in KINDS:
                        ids = sorted(set().union(*(wait.ids_of(kind.kind) for wait in going)))
                        checked[kind.kind] = ids
                        if not ids or finished is None:
                            continue
                        found = await _finished(credentials, kind, ids, page_size, logger)
                        if found is None:
                            finished = None
                        else:
                            finished |= {(kind.kind, resource_id) for resource_id in found}
                except Exception as exc:
                    permanent, finished = exc, None
            chosen = [
                (w, why)
                for w, why in waits_to_resume(going, finished, now)
                if why != "deadline passed"
            ]
            await _resume(prefect, chosen, counts, logger)
    if not waits and not unreadable:
        logger.info("No suspended waits.")
    else:
        # The first kind always (``0 replicas``), the others when there are any.
        on = [
            kind.count(len(checked[kind.kind]))
            for position, kind in enumerate(KINDS)
            if position == 0 or checked[kind.kind]
        ]
        logger.info(
            "Sweep: %s on %s, %s to Tavus; resumed %d%s%s.",
            plural(len(waits), "suspended wait"),
            " and ".join(on),
            plural(requests[0], "request"),
            counts.resumed,
            f" ({counts.already} already resumed or no longer suspended)" if counts.already else "",
            f"; skipped {plural(len(unreadable), 'unreadable record')}" if unreadable else "",
        )
    if permanent is not None:
        raise permanent
    return {
        "suspended_waits": len(waits),
        **{f"{kind.plural_noun}_checked": len(checked[kind.kind]) for kind in KINDS},
        "requests": requests[0],
        "resumed": counts.resumed,
        "already_resumed": counts.already,
        "unreadable": len(unreadable),
    }


_DESCRIPTION = "Resume the suspended waits (replicas, videos) that have something to report."


@flow(name="resume-waits", description=_DESCRIPTION)
def resume_waits(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    """Resume the suspended waits (replicas, videos) that have something to report.

    Finds every wait suspended with ``release_worker=True``, asks Tavus about everything
    they wait for, one kind at a time the way that kind's waits read many at once
    (replicas: one request per 100; videos: list pages or GETs), and resumes the runs
    whose replicas or videos have all finished, or whose deadline passed (the resumed
    wait then fails with its kind's ``WaitTimeoutError``). Deploy it on a schedule
    (``prefect.yaml`` runs it every 10 minutes): with it, waits need no callback at all,
    at the cost of up to one interval of delay. Run one per Tavus API key (block).

    Args:
        tavus_credentials: the block (or a saved block's name) whose key can read what
            the waits wait for.
        page_size: resources per list request (100).

    Returns:
        Counts: ``suspended_waits``, ``replicas_checked``, ``videos_checked`` (one
        ``<kind>s_checked`` per kind), ``requests``, ``resumed``, ``already_resumed`` (by
        a concurrent sweep or the callback receiver) and ``unreadable`` (records skipped
        with a WARNING).

    Raises:
        TavusAuthenticationError: the key was refused (or another permanent error, such
            as a block name that does not exist): raised after the waits whose deadline
            passed were resumed.
    """
    return run_coro_as_sync(_sweep(tavus_credentials, page_size))


@flow(name="resume-waits", description=_DESCRIPTION)
async def aresume_waits(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    """Async twin of :func:`resume_waits`: the same arguments, result and errors."""
    return await _sweep(tavus_credentials, page_size)


@flow(name="resume-replica-waits", description=_DESCRIPTION)
def resume_replica_waits(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    """:func:`resume_waits` under its old name and flow name (``resume-replica-waits``), so
    deployments made from ``flows/sweep.py:resume_replica_waits`` keep working. It resumes
    video waits too. New deployments use ``resume_waits``.

    Args:
        tavus_credentials: as for :func:`resume_waits`.
        page_size: as for :func:`resume_waits`.

    Returns:
        The counts :func:`resume_waits` returns.

    Raises:
        TavusAuthenticationError: as for :func:`resume_waits`.
    """
    return run_coro_as_sync(_sweep(tavus_credentials, page_size))


@flow(name="resume-replica-waits", description=_DESCRIPTION)
async def aresume_replica_waits(
    tavus_credentials: CredentialsInput = None, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, Any]:
    """Async twin of :func:`resume_replica_waits` (the old name of :func:`aresume_waits`)."""
    return await _sweep(tavus_credentials, page_size)
