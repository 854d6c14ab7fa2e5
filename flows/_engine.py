"""The one wait engine behind every wait: ``wait_for_replica(s)`` and ``wait_for_video(s)``.

What varies between replicas and videos is a :class:`~prefect_tavus.core.kinds.ResourceKind`
(its noun, id rule, record label, event prefix, words and how Tavus is read), and its two
poll tasks are made from it (``tasks/polling.py``); everything below is written once and
never asks which kind it has. A loop of poll rounds (one ``poll_replicas`` or
``poll_videos`` task run each) until every one has completed, failed, vanished, or the
deadline passes:

* cadence: from ``poll_interval_seconds`` growing to ``max_poll_interval_seconds``,
  brought forward when a replica's progress says it is about to finish;
* transient faults: an outage, survived for ``max_outage_seconds`` of continuous
  failure, retried with the shared backoff and never sooner than ``Retry-After``;
* permanent faults (key refused): raised at once, after one request;
* the deadline counts from the flow run's first start, so a retried or restarted run
  re-attaches to the same replicas without extending it; the wall clock includes time
  spent in requests;
* ``release_worker``: after a successful round with replicas still training, a
  top-level deployment run records what it waits for and suspends (``flows/_release.py``)
  instead of sleeping; resumed, it starts again from the top. Replicas an earlier life
  already reported are not reported again (no second terminal event for a trigger).
  When Prefect cannot take the suspension, the wait polls on and tries again at its
  next successful check;
* one budget for every request of a round: the confirming GETs of a round (the error
  message of a failed replica, an id the list left out) are single requests made here,
  each checked against the deadline and cancellation first, and their transient
  failures count against the same outage budget as the round's list request;
* the Prefect API failing is an outage like Tavus's: a slot of the ``tavus-api`` limit
  that cannot be taken fails the round transiently, and the result is held until the
  API answers again (``flows/_prefect_api.py``) before it is reported.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client as get_prefect_client
from prefect.context import FlowRunContext
from prefect.logging import get_run_logger
from prefect.states import Cancelled, State

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import (
    DEFAULT_RETRY_POLICY,
    TavusAPIUnavailableError,
    TavusError,
    TavusNotFoundError,
    TavusTransientError,
    count_requests,
)
from prefect_tavus.core.kinds import ResourceKind, ResultT, TavusResource
from prefect_tavus.core.waiting import (
    OutageTracker,
    Outcome,
    PollCadence,
    PollRound,
    ProgressRate,
    RequestSpacer,
    SettledOutcome,
    WaitResult,
    WaitSettings,
    reported_progress,
)
from prefect_tavus.flows._cancellation import CancellationWatch, WaitCancelled
from prefect_tavus.flows._prefect_api import await_prefect_api
from prefect_tavus.flows._prefect_ui import WaitUI
from prefect_tavus.flows._release import WorkerRelease, already_reported
from prefect_tavus.flows._reporting import WaitReporter
from prefect_tavus.tasks.polling import poll_tasks

__all__ = ["cancelled_state", "not_all_completed_message", "run_wait"]

_SPACER = RequestSpacer()


@dataclass
class _Tracked:
    resource_id: str
    last: TavusResource | None = None
    rate: ProgressRate = field(default_factory=ProgressRate)
    outcome: SettledOutcome | None = None


async def _this_run() -> tuple[float, UUID | None, Any]:
    """Epoch seconds when this flow run first started (survives retries, restarts and
    suspensions), the flow run's id, and the flow run as the server has it (its labels
    say what an earlier life of the run already reported)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return time.time(), None, None
    try:
        async with get_prefect_client() as prefect:
            flow_run = await prefect.read_flow_run(context.flow_run.id)
    except Exception:
        flow_run = context.flow_run
    start = flow_run.start_time
    return (start.timestamp() if start is not None else time.time()), context.flow_run.id, flow_run


async def run_wait(
    ids: list[str],
    credentials: TavusCredentials,
    settings: WaitSettings,
    release_worker: bool = False,
    *,
    kind: ResourceKind[ResultT],
) -> ResultT:
    """Wait for every resource of ``kind`` in ``ids`` (validated, de-duplicated). Returns
    the kind's result (``kind.result_model``: ``ReplicaWaitResult``, ``VideoWaitResult``).

    With ``release_worker``, suspend the run (never returning) rather than wait in-process,
    where Prefect allows it. Whatever the outcome (a result or an error such as a refused
    key), it is handed back only once the Prefect API answers, within the outage budget."""
    try:
        result = await _run_wait(ids, credentials, settings, release_worker, kind)
    except WaitCancelled:
        raise
    except Exception:
        await await_prefect_api(settings.max_outage_seconds, _logger())
        raise
    await await_prefect_api(settings.max_outage_seconds, _logger())
    return result


async def _run_wait(
    ids: list[str],
    credentials: TavusCredentials,
    settings: WaitSettings,
    release_worker: bool,
    kind: ResourceKind[ResultT],
) -> ResultT:
    tasks = poll_tasks(kind)
    cadence = PollCadence.from_settings(settings)
    outage = OutageTracker(settings.max_outage_seconds)
    # The one retry policy, at the wait's own pace: an outage is retried from the poll
    # interval up to the poll cap, never sooner than Retry-After.
    outage_policy = dataclasses.replace(
        DEFAULT_RETRY_POLICY,
        base_delay=settings.poll_interval_seconds,
        max_delay=settings.max_poll_interval_seconds,
    )
    reporter = WaitReporter(ids, kind, heartbeat_seconds=settings.heartbeat_seconds)
    ui = WaitUI(ids, kind, reporter.logger)
    key = credentials.key_fingerprint()
    credentials.get_client()  # fail on a missing key before the first round, not in it

    started_at, flow_run_id, flow_run = await _this_run()
    deadline = started_at + settings.timeout_seconds
    release = WorkerRelease.for_this_run(release_worker, flow_run_id, reporter.logger, kind)
    reported_before = already_reported(flow_run, ids, kind)
    reporter.started(deadline_in=deadline - time.time(), resumed_after=time.time() - started_at)

    tracked = {resource_id: _Tracked(resource_id) for resource_id in ids}
    pending = list(ids)
    finished: list[SettledOutcome] = []
    rounds = 0
    cap_in_force = settings.poll_interval_seconds  # the longest sleep before the current round

    def finish(
        resource_id: str,
        outcome: Outcome,
        message: str | None = None,
        seen_at: float | None = None,
        cause: TavusError | None = None,
    ) -> None:
        item = tracked[resource_id]
        now = seen_at if seen_at is not None else time.time()
        item.outcome = kind.outcome(
            resource_id,
            item.last,
            outcome=outcome,
            error_message=message,
            seen_finished_after_seconds=now - started_at,
            seen_finished_at=now,
            poll_cap_seconds=cap_in_force,
            cause=cause,
        )
        finished.append(item.outcome)
        if resource_id not in reported_before:
            reporter.finished(item.outcome)
            ui.settled(item.outcome)

    def observe(resource: TavusResource) -> None:
        item = tracked[resource.resource_id]
        previous = item.last
        item.last = resource
        item.rate.observe(time.monotonic(), resource.progress_percent)
        if previous is None or (previous.status, previous.progress_text) != (
            resource.status,
            resource.progress_text,
        ):
            reporter.changed(resource, previous)
        if resource.resource_id not in reported_before:
            ui.observed(resource)

    with count_requests() as requests:
        async with CancellationWatch(flow_run_id) as watch:
            while pending:
                await watch.sleep(
                    _SPACER.reserve(key, credentials.min_poll_spacing_seconds, time.monotonic())
                )
                rounds += 1
                round_started = time.monotonic()
                # Statuses read in this round may predate it by no more than this, so a
                # callback received later is news to the wait (see SuspendedWait.is_news in
                # prefect_tavus/suspension.py).
                round_started_wall = time.time()
                polled = await tasks.poll(
                    pending, credentials, round_number=rounds, page_size=settings.page_size
                )

                def outage_delay(error: TavusTransientError) -> float:
                    """Count ``error`` against the outage budget; the delay before the next round."""
                    now = time.monotonic()
                    new_outage = outage.record_failure(error, now)
                    if outage.exceeded(now):
                        raise TavusAPIUnavailableError(
                            outage_seconds=outage.duration(now),
                            budget_seconds=outage.budget_seconds,
                            last_error=error,
                        )
                    wait = outage_policy.delay(outage.failures, error)
                    # Try once more right at the end of the budget rather than overshoot it.
                    wait = min(wait, max(0.0, outage.budget_seconds - outage.duration(now)))
                    if new_outage:
                        reporter.outage_started(error, wait, outage.budget_seconds)
                    return wait

                if polled.failed is not None:
                    delay = outage_delay(polled.failed)
                else:
                    confirm = _Confirmer(credentials, deadline, watch, tasks.confirm, kind)
                    await _absorb_round(polled, tracked, confirm, observe, finish)
                    if confirm.failed is None:
                        failures = outage.failures
                        ended = outage.record_success(time.monotonic())
                        if ended is not None:
                            reporter.outage_ended(ended, failures)
                    pending = [
                        resource_id
                        for resource_id in pending
                        if tracked[resource_id].outcome is None
                    ]
                    reporter.round_summary((tracked[r].last for r in pending), finished)
                    await ui.progress(_mean_progress(tracked.values()))
                    now = time.monotonic()
                    # Bring the next poll forward to when the whole batch should be done (a
                    # batch returns only then); each replica's lag is bounded by the cap anyway.
                    etas = [
                        eta
                        for r in pending
                        if (eta := tracked[r].rate.eta_seconds(now)) is not None
                    ]
                    batch_eta = max(etas) if etas and len(etas) == len(pending) else None
                    cap_in_force = cadence.current_cap
                    # The cadence is between poll starts: the round's own time counts.
                    delay = max(0.0, cadence.next_delay(batch_eta) - (now - round_started))
                    if confirm.failed is not None and pending:
                        delay = min(delay, outage_delay(confirm.failed))

                if not pending:
                    break
                remaining = deadline - time.time()
                if remaining <= 0:
                    for resource_id in pending:
                        last = tracked[resource_id].last
                        finish(
                            resource_id,
                            Outcome.TIMED_OUT,
                            f"still {last.status if last else 'unseen'} "
                            f"({(last.progress_text if last else None) or 'no progress'}) at the deadline",
                        )
                    break
                if release is not None and polled.failed is None:
                    # Returns only when Prefect could not take it: poll on, try at the next check.
                    await release.suspend(pending, deadline, checked_at=round_started_wall)
                delay = min(delay, remaining)
                reporter.heartbeat(len(pending), time.time() - started_at, delay)
                await watch.sleep(delay)

    by_id = {resource_id: tracked[resource_id].outcome for resource_id in ids}
    result = kind.result(
        results=[outcome for outcome in by_id.values() if outcome is not None],
        elapsed_seconds=time.time() - started_at,
        poll_rounds=rounds,
        requests=requests[0],
    )
    reporter.done(result)
    await ui.summary(result)
    return result


def cancelled_state(what: str) -> State:
    """The state a wait's flow run ends in when it is cancelled while waiting for ``what``
    (``replica r1``, ``3 videos``): it stops polling and leaves them at Tavus as they were."""
    message = (
        f"Cancelled while waiting for {what}; stopped polling and left them at Tavus as they were."
    )
    get_run_logger().info(message)
    return Cancelled(message=message)


def not_all_completed_message(result: WaitResult[Any]) -> str:
    """Why a batch wait fails: its summary and the first ten that did not complete."""
    failed = ", ".join(
        f"{r.resource_id} ({r.outcome.value}: {r.error_message})" for r in result.not_completed[:10]
    )
    more = len(result.not_completed) - 10
    return (
        f"{result.summary()}. Not completed: {failed}{f' and {more} more' if more > 0 else ''}. "
        "Pass raise_on_failure=False to get the results instead of an error."
    )


def _logger() -> Any:
    try:
        return get_run_logger()
    except Exception:
        return logging.getLogger("prefect_tavus.wait")


def _mean_progress(items: Iterable[_Tracked]) -> float:
    """Mean progress of a wait, each replica as Tavus last reported it: completed ones count
    as 100; failed, missing or still training ones as their last reported progress (0 if none)."""
    values = [
        reported_progress(item.last, completed=item.outcome is not None and item.outcome.ok)
        for item in items
    ]
    return sum(values) / len(values) if values else 0.0


class _Confirmer:
    """The confirming GETs of one round, inside the wait's budget.

    One request each, no retries of their own: before each, the deadline and
    cancellation are checked; the first transient failure ends the round's confirming
    (``failed``: the engine counts it against the wait's outage budget) and leaves the
    replica for the next round to ask again.
    """

    def __init__(
        self,
        credentials: TavusCredentials,
        deadline: float,
        watch: CancellationWatch,
        task: Any,
        kind: ResourceKind,
    ) -> None:
        self._credentials = credentials
        self._deadline = deadline
        self._watch = watch
        self._task = task
        self._kind = kind
        self.failed: TavusTransientError | None = None

    async def get(self, resource_id: str) -> TavusResource | None:
        """The replica (or video), or None when it must wait for the next round.

        Raises:
            TavusNotFoundError: Tavus has no such replica (definitive).
            WaitCancelled: the run was cancelled.
        """
        await self._watch.sleep(0)  # raises WaitCancelled once the run is cancelled
        if self.failed is not None or time.time() >= self._deadline:
            return None  # one failure per round is enough to know; the deadline ends the wait
        answer = await self._task(resource_id, self._credentials)
        if answer.failed is not None:
            self.failed = answer.failed  # the engine counts it against the outage budget
            return None
        if resource_id in answer.missing:
            raise answer.missing[resource_id] or TavusNotFoundError(
                f"Tavus has no {self._kind.noun} {resource_id!r}."
            )
        return answer.found[resource_id]


async def _absorb_round(
    polled: PollRound,
    tracked: dict[str, _Tracked],
    confirm: _Confirmer,
    observe: Callable[[TavusResource], None],
    finish: Callable[..., None],
) -> None:
    """Apply one successful round: record changes, settle finished replicas.

    List answers lack ``error_message``, and ids missing from a list may be deleted or
    mistyped: each newly failed or unconfirmed missing replica costs one confirming GET.
    """
    for resource_id, said_so in polled.missing.items():
        if said_so is not None:  # asked for alone, and Tavus answered 400/404
            finish(
                resource_id,
                Outcome.NOT_FOUND,
                said_so.api_message or str(said_so),
                polled.received_at.get(resource_id),
                cause=said_so,
            )
            continue
        try:
            resource = await confirm.get(resource_id)
        except TavusNotFoundError as error:
            finish(resource_id, Outcome.NOT_FOUND, error.api_message or str(error), cause=error)
            continue
        if resource is not None:
            _settle(resource, None, observe, finish)
    single = len(polled.found) + len(polled.missing) == 1
    for resource_id, resource in polled.found.items():
        if resource.is_failed and not resource.failure_reason and not single:
            try:  # the list carries no error_message: read it once (verbose: with replica_type)
                resource = await confirm.get(resource_id) or resource
            except TavusNotFoundError:
                pass  # keep the list's view; the failure stands without its message
        _settle(resource, polled.received_at.get(resource_id), observe, finish)


def _settle(
    resource: TavusResource,
    seen_at: float | None,
    observe: Callable[[TavusResource], None],
    finish: Callable[..., None],
) -> None:
    observe(resource)
    if resource.is_completed:
        finish(resource.resource_id, Outcome.COMPLETED, seen_at=seen_at)
    elif resource.is_failed:
        finish(
            resource.resource_id,
            Outcome.FAILED,
            resource.failure_reason or "Tavus gave no reason",
            seen_at,
        )
    elif resource.is_gone:
        finish(
            resource.resource_id, Outcome.NOT_FOUND, f"Tavus reports it {resource.status}", seen_at
        )
