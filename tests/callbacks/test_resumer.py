"""The resumer's pass against a fake Prefect client: what it writes, what it reads back,
and which waits it resumes. (The real server is in the *_process tests.)"""

from __future__ import annotations

import base64
import contextlib
import logging
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from prefect.client.schemas.responses import SetStateStatus

from prefect_tavus.callbacks import CallbackStore, Resumer, ResumerSettings
from prefect_tavus.callbacks.events import read_first_receipts
from prefect_tavus.core.contract import CALLBACK_EVENTS, EVENT_PREFIXES, KIND_LABELS, Kind
from prefect_tavus.suspension import LABEL_CHECKED_AT, LABEL_DEADLINE, SUSPENDED


class FakePrefect:
    """Flow runs and events, with the few endpoints the resumer uses."""

    page_size = 2

    def __init__(self) -> None:
        self.runs: dict[UUID, SimpleNamespace] = {}
        self.events: dict[
            str, dict[str, Any]
        ] = {}  # by id: a known id is ignored (ON CONFLICT DO NOTHING)
        self.writes = 0
        self.reads = 0
        self.fail_writes: list[Exception] = []
        self.accept_then_fail = False
        self.resumed: list[UUID] = []
        self.filter_names = True  # False: answer as if the event-name filter were not applied

    def suspend(self, ids: list[str], checked_at: float | None, kind: Kind = "replica") -> UUID:
        run_id = uuid4()
        labels = {KIND_LABELS[kind]: ",".join(ids), LABEL_DEADLINE: 9e9}
        if checked_at is not None:
            labels[LABEL_CHECKED_AT] = checked_at
        self.runs[run_id] = SimpleNamespace(
            id=run_id, name=f"wait-{len(self.runs)}", labels=labels, state=self._state(SUSPENDED)
        )
        return run_id

    @staticmethod
    def _state(name: str) -> SimpleNamespace:
        return SimpleNamespace(name=name, is_paused=lambda: name == SUSPENDED)

    def record(
        self, resource_id: str, status: str, occurred: float, kind: Kind = "replica"
    ) -> None:
        """An event as another receiver (or a webhook) wrote it."""
        event_id = str(uuid4())
        self.events[event_id] = {
            "id": event_id,
            "event": CALLBACK_EVENTS[kind],
            "occurred": datetime.fromtimestamp(occurred, tz=timezone.utc)
            .isoformat()
            .replace("+00:00", "Z"),
            "resource": {"prefect.resource.id": f"{EVENT_PREFIXES[kind]}.{resource_id}"},
            "payload": {"status": status},
        }

    async def request(
        self, method: str, path: str, json: Any = None, params: Any = None
    ) -> httpx.Response:
        request = httpx.Request(method, "http://prefect" + path)
        if (method, path) == ("POST", "/events"):
            self.writes += 1
            if self.accept_then_fail:  # the server took them, the answer was lost
                self.accept_then_fail = False
                for event in json:
                    self.events.setdefault(event["id"], event)
                raise httpx.ReadTimeout("lost answer", request=request)
            if self.fail_writes:
                raise self.fail_writes.pop(0)
            for event in json:
                self.events.setdefault(event["id"], event)
            return httpx.Response(204, request=request)
        self.reads += 1
        if (method, path) == ("POST", "/events/filter"):
            wanted = set(json["filter"]["resource"]["id"])
            names = set(json["filter"]["event"]["name"])
            assert json["filter"]["occurred"]["since"], "the window is always given"
            matching = [
                e
                for e in self.events.values()
                if e["resource"]["prefect.resource.id"] in wanted
                and (e["event"] in names or not self.filter_names)
            ]
            self._query = sorted(matching, key=lambda event: event["occurred"])
            offset = 0
        else:
            assert (method, path) == ("GET", "/events/filter/next")
            offset = int(base64.b64decode(params["page-token"]).decode())
        page = self._query[offset : offset + self.page_size]
        more = offset + self.page_size < len(self._query)
        token = base64.b64encode(str(offset + self.page_size).encode()).decode()
        next_page = (
            f"http://elsewhere:4200/api/events/filter/next?page-token={token}" if more else None
        )
        return httpx.Response(
            200,
            json={"events": page, "total": len(self._query), "next_page": next_page},
            request=request,
        )

    async def read_flow_runs(
        self, flow_run_filter: Any, limit: int, offset: int
    ) -> list[SimpleNamespace]:
        suspended = [run for run in self.runs.values() if run.state.name == SUSPENDED]
        return suspended[offset : offset + limit]

    async def read_flow_run(self, run_id: UUID) -> SimpleNamespace:
        return self.runs[run_id]

    async def resume_flow_run(self, run_id: UUID) -> SimpleNamespace:
        run = self.runs[run_id]
        if run.state.name != SUSPENDED:
            return SimpleNamespace(status=SetStateStatus.REJECT)
        run.state = self._state("Resuming")
        self.resumed.append(run_id)
        return SimpleNamespace(status=SetStateStatus.ACCEPT)


@pytest.fixture
def prefect() -> FakePrefect:
    return FakePrefect()


def resumer_for(prefect: FakePrefect, **settings: float) -> Resumer:
    # The stand-in has one caller at a time: no lock against other receivers to take.
    return Resumer(
        CallbackStore(),
        lambda: contextlib.nullcontext(prefect),
        ResumerSettings(**settings),
        resume_lock=lambda client: contextlib.nullcontext(),
    )


async def test_a_burst_is_one_write_per_200_callbacks_and_never_written_twice(prefect):
    resumer = resumer_for(prefect)
    for index in range(1000):
        resumer.store.record(f"r{index:06d}", "ready", None, kind="replica")
        resumer.store.record(
            f"r{index:06d}", "Ready", None, kind="replica"
        )  # a repeat: not written again
    await resumer.run_pass()
    assert prefect.writes == 5 and len(prefect.events) == 1000
    await resumer.run_pass()
    assert prefect.writes == 5 and resumer.store.pending_count == 0


async def test_unaccepted_callbacks_stay_pending_and_a_resent_batch_is_not_duplicated(
    prefect, caplog
):
    resumer = resumer_for(prefect, interval_seconds=0.001)
    resumer.store.record("r1", "ready", None, kind="replica")
    prefect.accept_then_fail = True
    await resumer.run_pass()
    assert resumer.store.pending_count == 1 and resumer.healthy is False
    prefect.fail_writes = [httpx.ConnectError("down")]
    await resumer._write_pending(prefect, force=True)
    assert resumer.store.pending_count == 1
    await resumer._write_pending(prefect, force=True)
    assert resumer.store.pending_count == 0 and len(prefect.events) == 1 and prefect.writes == 3
    assert resumer.healthy is True
    assert len([r for r in caplog.records if "Could not write" in r.getMessage()]) == 1, (
        "one warning per outage"
    )


async def test_a_refused_batch_does_not_block_the_next(prefect, caplog):
    caplog.set_level(logging.ERROR)
    resumer = resumer_for(prefect)
    resumer.store.record("r1", "ready", None, kind="replica")
    response = httpx.Response(
        422, text="bad\x1b[31m", request=httpx.Request("POST", "http://prefect/events")
    )
    prefect.fail_writes = [
        httpx.HTTPStatusError("422", request=response.request, response=response)
    ]
    await resumer.run_pass()
    assert (
        resumer.store.pending_count == 0 and "refused" in caplog.text and "\x1b" not in caplog.text
    )
    resumer.store.record("r2", "ready", None, kind="replica")
    await resumer.run_pass()
    assert [e["payload"]["replica_id"] for e in prefect.events.values()] == ["r2"]


async def test_news_goes_by_the_earliest_receipt_per_replica_and_status(prefect):
    resumer = resumer_for(prefect)
    run = prefect.suspend(["ra", "rb"], checked_at=100.0)
    prefect.record("ra", "ready", 50.0)  # before the check: no news ...
    prefect.record("ra", "Ready", 150.0)  # ... and a case-varied repeat later does not change that
    prefect.record("ra", "READY", 160.0)
    resumer.store.record(
        "rb", "ready", None, received_at=200.0, kind="replica"
    )  # local, not readable yet
    assert await resumer.run_pass() == 0 and prefect.reads >= 2, "paged through the events"
    prefect.record("ra", "error", 170.0)  # a callback with another status after the check: news
    assert await resumer.run_pass() == 1 and prefect.resumed == [run]
    assert await resumer.run_pass() == 0


async def test_a_wait_without_checked_at_needs_a_callback_for_every_replica(prefect):
    resumer = resumer_for(prefect)
    prefect.suspend(["ra", "rb"], checked_at=None)
    prefect.record("ra", "ready", 10.0)
    assert await resumer.run_pass() == 0
    prefect.record("rb", "ready", 10.0)
    assert await resumer.run_pass() == 1


async def test_a_run_that_re_suspended_since_it_was_read_is_not_resumed(prefect):
    resumer = resumer_for(prefect)
    run = prefect.suspend(["ra"], checked_at=100.0)
    prefect.record("ra", "ready", 150.0)
    original = prefect.read_flow_run

    async def re_suspended(
        run_id: UUID,
    ) -> SimpleNamespace:  # it re-checked between our read and resume
        prefect.runs[run_id].labels[LABEL_CHECKED_AT] = 300.0
        return await original(run_id)

    prefect.read_flow_run = re_suspended  # type: ignore[method-assign]
    assert await resumer.run_pass() == 0 and prefect.resumed == []
    assert prefect.runs[run].state.name == SUSPENDED


async def test_flush_writes_what_is_pending(prefect):
    resumer = resumer_for(prefect)
    resumer.store.record("r1", "ready", None, kind="replica")
    prefect.fail_writes = [httpx.ConnectError("down")]
    assert await resumer.flush() == 1
    assert await resumer.flush() == 0 and len(prefect.events) == 1


async def test_a_video_wait_resumes_when_every_video_has_a_callback_after_its_check(prefect):
    resumer = resumer_for(prefect)
    run = prefect.suspend(["v1a2b3", "v4c5d6"], checked_at=100.0, kind="video")
    prefect.record("v1a2b3", "ready", 50.0, kind="video")  # before the check: no news
    resumer.store.record("v4c5d6", "ready", None, received_at=200.0, kind="video")
    assert await resumer.run_pass() == 0 and prefect.resumed == []
    prefect.record("v1a2b3", "error", 150.0, kind="video")  # another status after the check: news
    assert await resumer.run_pass() == 1 and prefect.resumed == [run]
    assert await resumer.run_pass() == 0


async def test_callbacks_wake_only_waits_of_their_own_kind_even_for_same_looking_ids(prefect):
    resumer = resumer_for(prefect)
    video_wait = prefect.suspend(["rsame123"], checked_at=100.0, kind="video")
    replica_wait = prefect.suspend(["rsame456"], checked_at=100.0)
    resumer.store.record(
        "rsame123", "ready", None, received_at=150.0, kind="replica"
    )  # a replica's, local
    prefect.record("rsame123", "ready", 160.0)  # a replica's, recorded by another receiver
    resumer.store.record("rsame456", "ready", None, received_at=150.0, kind="video")
    prefect.record("rsame456", "error", 160.0, kind="video")
    assert await resumer.run_pass() == 0 and prefect.resumed == []
    prefect.record("rsame123", "ready", 170.0, kind="video")
    assert await resumer.run_pass() == 1 and prefect.resumed == [video_wait]
    resumer.store.record("rsame456", "ready", None, received_at=170.0, kind="replica")
    assert await resumer.run_pass() == 1 and prefect.resumed == [video_wait, replica_wait]


async def test_both_kinds_are_written_as_their_own_events_and_read_back_by_earliest_receipt(
    prefect,
):
    resumer = resumer_for(prefect)
    resumer.store.record("rsame1", "ready", None, received_at=100.0, kind="replica")
    resumer.store.record(
        "rsame1", "error", "replica_in_error_state", received_at=110.0, kind="video"
    )
    await resumer.run_pass()
    written = sorted(prefect.events.values(), key=lambda event: event["event"])
    assert [(e["event"], e["resource"]["prefect.resource.id"], e["payload"]) for e in written] == [
        (
            "tavus.replica.callback",
            "tavus.replica.rsame1",
            {"replica_id": "rsame1", "status": "ready", "error_message": None},
        ),
        (
            "tavus.video.callback",
            "tavus.video.rsame1",
            {"video_id": "rsame1", "status": "error", "reason": "replica_in_error_state"},
        ),
    ]
    prefect.record("rsame1", "Error", 90.0, kind="video")  # an earlier receipt, in another case
    prefect.record("rsame1", "ERROR", 300.0, kind="video")
    prefect.record("rsame1", "queued", 50.0, kind="video")
    prefect.record("rsame1", "ready", 400.0)  # a replica's, later: only the earliest counts
    assert await read_first_receipts(prefect, ["rsame1"], now=1000.0, kind="video") == {
        ("rsame1", "error"): 90.0,
        ("rsame1", "queued"): 50.0,
    }
    assert await read_first_receipts(prefect, ["rsame1"], now=1000.0, kind="replica") == {
        ("rsame1", "ready"): 100.0
    }
    # An event of one kind's name on the other kind's resource (a misconfigured webhook)
    # counts for neither, even from a server that let it through.
    odd = {**prefect.events[written[0]["id"]], "id": "odd", "event": "tavus.video.callback"}
    prefect.events["odd"] = {**odd, "occurred": "1970-01-01T00:00:10Z"}
    prefect.filter_names = False
    assert await read_first_receipts(prefect, ["rsame1"], now=1000.0, kind="replica") == {
        ("rsame1", "ready"): 100.0
    }
    assert (await read_first_receipts(prefect, ["rsame1"], now=1000.0, kind="video"))[
        ("rsame1", "error")
    ] == 90.0
