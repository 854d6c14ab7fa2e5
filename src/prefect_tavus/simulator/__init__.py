"""A local, standard-library-only fake of the Tavus Replicas and Videos APIs.

The project's demo, tests and benchmark run where there is no network and no Tavus account,
and where nobody can wait hours for a replica to train. This package serves the same HTTP
contract (``/v2/replicas`` and ``/v2/videos``: get, list, create, rename, delete;
``x-api-key`` auth; Tavus's error shapes) on loopback, with training and video generation
compressed to seconds (a video waits ``queued`` while its replica trains, and fails with
``replica_in_error_state`` if training fails), and with scriptable faults
(429/5xx with ``Retry-After``, dropped connections, slow and malformed answers, and answers
lost after the request took effect), per replica, per route or for every request. It can
answer in Tavus's newer face vocabulary, and list newest first.

It deliberately imports nothing from the project's client: it is a second, independent
reading of the API contract, so tests written against it are not circular.

Example::

    from prefect_tavus.simulator import ROUTE_VIDEO_CREATE, Fault, ReplicaSpec, TavusSimulator

    with TavusSimulator(default_training_seconds=2.0) as sim:
        rid = sim.add_replica(training_seconds=1.0)
        bad = sim.add_replica(ReplicaSpec(outcome="error", error_message="Blurry video"))
        sim.inject_faults(rid, [Fault.status(503, retry_after="1")])
        vid = sim.add_video(replica_id=rid, script="Hello", generation_seconds=0.5)
        sim.script_created_videos(outcome="error", error_reason="audio_too_short")
        sim.inject_faults(ROUTE_VIDEO_CREATE, [Fault.lost_answer()])
        ...  # point a client at sim.url with x-api-key: sim-key
"""

from prefect_tavus.simulator.api import (
    ROUTE_CREATE,
    ROUTE_DELETE,
    ROUTE_GET,
    ROUTE_LIST,
    ROUTE_RENAME,
    ROUTE_VIDEO_CREATE,
    ROUTE_VIDEO_DELETE,
    ROUTE_VIDEO_GET,
    ROUTE_VIDEO_LIST,
    ROUTE_VIDEO_RENAME,
    ROUTES,
    VIDEO_ROUTES,
)
from prefect_tavus.simulator.faults import FAULT_KINDS, Fault, FaultKind
from prefect_tavus.simulator.simulator import TavusSimulator
from prefect_tavus.simulator.spec import (
    DEFAULT_ERROR_MESSAGE,
    DEFAULT_VIDEO_ERROR,
    InvalidReplicaSpec,
    InvalidVideoSpec,
    ReplicaSpec,
    VideoSpec,
)
from prefect_tavus.simulator.state import (
    DEFAULT_VIDEO_PAGE_SIZE,
    LIST_ORDERS,
    MAX_PAGE_SIZE,
    ListOrder,
)
from prefect_tavus.simulator.timeline import (
    REPLICA_IN_ERROR_STATE,
    Timeline,
    VideoTimeline,
    iso_timestamp,
)
from prefect_tavus.simulator.vocabulary import VOCABULARIES, Vocabulary

__all__ = [
    "DEFAULT_ERROR_MESSAGE",
    "DEFAULT_VIDEO_ERROR",
    "DEFAULT_VIDEO_PAGE_SIZE",
    "FAULT_KINDS",
    "LIST_ORDERS",
    "MAX_PAGE_SIZE",
    "REPLICA_IN_ERROR_STATE",
    "ROUTES",
    "ROUTE_CREATE",
    "ROUTE_DELETE",
    "ROUTE_GET",
    "ROUTE_LIST",
    "ROUTE_RENAME",
    "ROUTE_VIDEO_CREATE",
    "ROUTE_VIDEO_DELETE",
    "ROUTE_VIDEO_GET",
    "ROUTE_VIDEO_LIST",
    "ROUTE_VIDEO_RENAME",
    "VIDEO_ROUTES",
    "VOCABULARIES",
    "Fault",
    "FaultKind",
    "InvalidReplicaSpec",
    "InvalidVideoSpec",
    "ListOrder",
    "ReplicaSpec",
    "TavusSimulator",
    "Timeline",
    "VideoSpec",
    "VideoTimeline",
    "Vocabulary",
    "iso_timestamp",
]
