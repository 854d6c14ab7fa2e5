"""The API key appears nowhere a run writes: logs, exceptions, results, parameters, task
inputs, state messages, artifacts, events, block documents, or the server's database."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
import uuid
from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings

from prefect_tavus.blocks import TavusCredentials
from prefect_tavus.core import TavusAuthenticationError, TavusClient
from prefect_tavus.flows import wait_for_replica, wait_for_replicas
from prefect_tavus.simulator import TavusSimulator
from prefect_tavus.tasks import get_replica


def test_key_is_never_written_anywhere(caplog):
    key = f"tvs-LEAKCHECK-{uuid.uuid4().hex}"
    seen: list[str] = []
    with TavusSimulator(api_keys=(key,)) as sim, caplog.at_level(logging.DEBUG):
        creds = TavusCredentials(api_key=key, base_url=sim.url, min_poll_spacing_seconds=0.01)
        creds.save("tavus-leak-check", overwrite=True)
        fast = {"wait_settings": {"poll_interval_seconds": 0.2, "max_poll_interval_seconds": 0.4}}
        ok = sim.add_replica(training_seconds=0.8)
        bad = sim.add_replica(training_seconds=0.5, outcome="error", error_message="bad video")

        seen.append(wait_for_replica(ok, creds, **fast).model_dump_json())  # block passed inline
        seen.append(wait_for_replica(ok, "tavus-leak-check", **fast).model_dump_json())  # by name
        seen.append(
            wait_for_replicas(
                [ok, bad, "rgone0001"], creds, raise_on_failure=False, **fast
            ).model_dump_json()
        )

        @flow
        def uses_task():
            return get_replica(ok, creds)

        seen.append(repr(uses_task()))
        sim.revoke_key(key)
        with pytest.raises(TavusAuthenticationError) as info:
            wait_for_replica(ok, creds, **fast)
        seen += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
        seen += [
            repr(creds),
            str(creds),
            creds.model_dump_json(),
            repr(TavusClient(key, base_url=sim.url)),
        ]

    time.sleep(1.5)  # let the event persister flush

    async def from_server() -> list[str]:
        texts = []
        async with get_client() as client:
            for run in await client.read_flow_runs(limit=200):
                texts += [run.model_dump_json()]
            for task_run in await client.read_task_runs(limit=200):
                texts += [task_run.model_dump_json()]
            texts += [log.model_dump_json() for log in await client.read_logs(limit=200)]
            texts += [a.model_dump_json() for a in await client.read_artifacts(limit=200)]
            events = await client._client.post("/events/filter", json={"limit": 50})
            texts.append(events.text)
            # The block is where the key lives; read it as the UI shows it.
            document = await client.read_block_document_by_name(
                "tavus-leak-check", "tavus-credentials", include_secrets=False
            )
            texts.append(document.model_dump_json())
        return texts

    server_texts = asyncio.run(from_server())
    assert len(server_texts) > 20  # the scan really read the runs, logs and events
    seen += server_texts
    seen += [record.getMessage() for record in caplog.records]
    seen += ["".join(traceback.format_exception(*r.exc_info)) for r in caplog.records if r.exc_info]

    leaks = [text[:200] for text in seen if key in text]
    assert not leaks, f"key leaked in: {leaks}"

    url = get_current_settings().server.database.connection_url.get_secret_value()
    db = Path(url.split("///", 1)[1])
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert len(raw) > 10_000
    assert key.encode() not in raw, "key found in the Prefect database file"
