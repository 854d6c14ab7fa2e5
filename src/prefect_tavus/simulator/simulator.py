"""The public face of the simulator: start a fake Tavus API on loopback and script it.

There is no network and no Tavus account where this project is tested, demonstrated and
benchmarked, and replicas take hours to train for real. :class:`TavusSimulator` serves the
replica and video APIs over real HTTP on ``127.0.0.1`` with training and generation
compressed to seconds, and lets the caller add replicas and videos with chosen outcomes,
script faults, revoke keys and read request counts.
It is an independent implementation of the API contract (it shares no code with the
project's client), so tests against it are not circular.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from prefect_tavus.simulator.app import SimulatorApp
from prefect_tavus.simulator.faults import Fault
from prefect_tavus.simulator.server import SimulatorHTTPServer, SimulatorHTTPServerV6
from prefect_tavus.simulator.spec import (
    MAX_SECONDS,
    ReplicaSpec,
    VideoSpec,
    build_spec,
    build_video_spec,
)
from prefect_tavus.simulator.state import LIST_ORDERS, MAX_PAGE_SIZE, ListOrder, SimulatorState
from prefect_tavus.simulator.vocabulary import Vocabulary, validate_vocabulary

#: Seconds serve_forever() waits between checks for a shutdown request.
_POLL_INTERVAL = 0.05


class TavusSimulator:
    """A local fake of the Tavus Replicas and Videos APIs, served over HTTP on a daemon thread.

    Args:
        host: address to bind (loopback unless you know why not).
        port: port to bind; 0 picks a free one (read it back from :attr:`url`).
        api_keys: keys accepted in ``x-api-key``.
        default_training_seconds: training time of replicas created with ``POST /v2/replicas``
            (and of :meth:`add_replica` calls that leave ``training_seconds`` out).
        delete_status: status of a successful DELETE: 200 (documented) or 204 (seen).
        drop_callbacks: lose every training-finished callback (a receiver that never hears
            from Tavus); per replica, ``ReplicaSpec.drop_callback`` does the same.
        vocabulary: the field names of answers and callbacks: ``"replicas"`` (``replica_id``,
            ``replica_name``, ``replica_type``, as the seed's docs) or ``"faces"``
            (``face_id``, ``face_name``, ``face_type``, as Tavus's newest docs). Routes and
            request bodies stay those of ``/v2/replicas`` either way.
        list_order: order of list pages: ``"oldest_first"`` (creation order) or
            ``"newest_first"``. Tavus documents none; a client must not depend on it.
        max_page_size: largest page a list answers with (a larger ``limit`` is clamped
            silently). Tavus documents no maximum; a smaller one shows whether a client
            follows pages by ``total_count`` rather than by the page size it asked for.
        default_generation_seconds: generation time of videos created with
            ``POST /v2/videos`` (and of :meth:`add_video` calls that leave
            ``generation_seconds`` out).
        video_list_order: order of ``GET /v2/videos`` pages, as ``list_order`` for replicas
            (Tavus documents none for videos either).
        video_max_page_size: largest page ``GET /v2/videos`` answers with (a larger
            ``limit`` is clamped silently; without ``limit`` a page has 10 items, or fewer
            if this is smaller). Tavus documents no maximum.
        verbose: log each request to stderr.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] = ("sim-key",),
        default_training_seconds: float = 20.0,
        *,
        delete_status: int = 200,
        drop_callbacks: bool = False,
        vocabulary: Vocabulary = "replicas",
        list_order: ListOrder = "oldest_first",
        max_page_size: int = MAX_PAGE_SIZE,
        default_generation_seconds: float = 10.0,
        video_list_order: ListOrder = "oldest_first",
        video_max_page_size: int = MAX_PAGE_SIZE,
        verbose: bool = False,
    ) -> None:
        for name, size in (
            ("max_page_size", max_page_size),
            ("video_max_page_size", video_max_page_size),
        ):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"{name} must be a positive integer, got {size!r}")
        for name, order in (("list_order", list_order), ("video_list_order", video_list_order)):
            if order not in LIST_ORDERS:
                raise ValueError(f"{name} must be one of {', '.join(LIST_ORDERS)}, got {order!r}")
        if (
            isinstance(default_generation_seconds, bool)
            or not isinstance(default_generation_seconds, (int, float))
            or not 0 <= default_generation_seconds <= MAX_SECONDS
        ):
            raise ValueError(
                f"default_generation_seconds must be a number in 0..{MAX_SECONDS:.0f}, got {default_generation_seconds!r}"
            )
        if isinstance(api_keys, str):
            api_keys = (api_keys,)
        self.host = host
        self._requested_port = port
        self.state = SimulatorState(
            api_keys,
            default_training_seconds,
            default_generation_seconds=default_generation_seconds,
        )
        self.state.drop_callbacks = drop_callbacks
        self.state.vocabulary = validate_vocabulary(vocabulary)
        self.state.list_order = list_order
        self.state.max_page_size = max_page_size
        self.state.video_list_order = video_list_order
        self.state.video_max_page_size = video_max_page_size
        self._app = SimulatorApp(self.state, delete_status=delete_status)
        self._verbose = verbose
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> TavusSimulator:
        """Bind and start serving on a daemon thread; returns ``self``.

        Raises:
            RuntimeError: already started, or stopped (a simulator is not restartable).
            OSError: the address cannot be bound.
        """
        if self._server is not None or self._stopped:
            raise RuntimeError("TavusSimulator.start() may only be called once")
        server_class = SimulatorHTTPServerV6 if ":" in self.host else SimulatorHTTPServer
        self._server = server_class(
            (self.host, self._requested_port), self._app, verbose=self._verbose
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"tavus-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and open connections (idempotent, < 1 s)."""
        server, thread = self._server, self._thread
        self._stopped = True
        if server is not None:
            server.stopping.set()
            server.shutdown()
            server.server_close()
            server.close_connections(timeout=0.5)
        if thread is not None:
            thread.join(timeout=1.0)
        self.state.close()

    def __enter__(self) -> TavusSimulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            RuntimeError: not started.
        """
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the running simulator, e.g. ``http://127.0.0.1:51234``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_keys(self) -> tuple[str, ...]:
        """The configured API keys (revoked ones included)."""
        return self.state.api_keys

    # -- scripting ------------------------------------------------------------------------------

    def add_replica(self, spec: ReplicaSpec | None = None, /, **fields: Any) -> str:
        """Add a replica whose training starts now; return its id.

        Pass a :class:`ReplicaSpec`, or its fields as keyword arguments (the usual way), or
        both (the keywords then override the spec's fields)::

            sim.add_replica(replica_name="Ann", training_seconds=1.0)
            sim.add_replica(training_seconds=0.5, outcome="error", error_message="Blurry")
            sim.add_replica(FAILING, replica_name="Bob")  # FAILING = ReplicaSpec(outcome="error")

        The fields, their defaults and valid values are documented on :class:`ReplicaSpec`;
        ``training_seconds`` left out (or ``None``) means this simulator's
        ``default_training_seconds``.

        Raises:
            TypeError: ``spec`` is not a ``ReplicaSpec``, or a keyword is not one of its fields.
            ValueError: an invalid value (:class:`~prefect_tavus.simulator.spec.InvalidReplicaSpec`),
                or ``replica_id`` already in use.
        """
        return self.state.add_replica(build_spec(spec, fields))

    def replica_payload(self, replica_id: str, verbose: bool = False) -> dict[str, Any]:
        """What ``GET /v2/replicas/{replica_id}`` would return right now.

        Raises:
            KeyError: unknown or deleted replica.
        """
        payload = self.state.payload(replica_id, verbose=verbose)
        if payload is None:
            raise KeyError(replica_id)
        return payload

    def finished_at(self, replica_id: str) -> float | None:
        """``time.time()`` at which the replica reached its final status; ``None`` if not yet.

        Computed from the timeline, not from when anyone polled.

        Raises:
            KeyError: unknown or deleted replica.
        """
        return self.state.finished_at(replica_id)

    def end_training(self, replica_id: str, at: float | None = None) -> None:
        """End a replica's training at ``at`` (``time.time()``; now by default), with its
        scripted outcome. See :meth:`SimulatorState.end_training`."""
        self.state.end_training(replica_id, at)

    def inject_faults(self, rid_or_star: str, faults: Iterable[Fault]) -> None:
        """Queue ``faults``, consumed one per matching request in order.

        ``"*"`` matches every ``/v2`` request; a route name (``ROUTE_CREATE``, i.e.
        ``"POST /v2/replicas"``, and the others of :data:`ROUTES` and :data:`VIDEO_ROUTES`,
        e.g. ``"POST /v2/videos"``, as :meth:`stats` names them) every request on that
        route; a replica id matches ``GET /v2/replicas/{id}`` and list requests whose
        ``replica_ids`` include it; a video id matches ``GET /v2/videos/{id}``. A request
        consumes at most one fault: from the replica's or video's script, else the route's,
        else the ``"*"`` script.
        """
        self.state.inject_faults(rid_or_star, faults)

    def revoke_key(self, key: str) -> None:
        """Make ``key`` get 401 from now on."""
        self.state.revoke_key(key)

    def delete_replica(self, replica_id: str, hard: bool = False) -> None:
        """Delete a replica: GET answers 400 ``Invalid replica_id`` and lists omit it.

        ``hard`` is accepted for symmetry with the API; both kinds look the same from outside.

        Raises:
            KeyError: unknown or already deleted replica.
        """
        if not self.state.delete(replica_id):
            raise KeyError(replica_id)

    def stats(self) -> dict[str, Any]:
        """Request counts since the last reset.

        Keys: ``requests`` (API requests), ``by_route`` (e.g. ``"GET /v2/replicas/{id}"``,
        ``"GET /v2/videos"``), ``by_replica`` (single-replica GETs per id), ``by_video``
        (single-video GETs per id), ``unauthorized`` (401s from the key check),
        ``faults_served``, ``connections`` (TCP connections accepted) and ``callbacks``
        (``delivered``/``failed``/``skipped``/``dropped``, replica and video callbacks
        together). Control-API requests are not counted.
        """
        return self.state.stats()

    def reset_stats(self) -> None:
        """Zero every counter."""
        self.state.reset_stats()

    def reset(self) -> None:
        """Drop all replicas, videos, scripted videos, faults, revocations, pending callbacks
        and statistics."""
        self.state.reset()

    # -- videos ---------------------------------------------------------------------------------

    def add_video(self, spec: VideoSpec | None = None, /, **fields: Any) -> str:
        """Add a video, created now; return its id.

        Pass a :class:`VideoSpec`, or its fields as keyword arguments, or both::

            rid = sim.add_replica(training_seconds=1.0)
            vid = sim.add_video(replica_id=rid, script="Hi", generation_seconds=0.5)
            # queued while rid trains (1 s), then generating (0.5 s), then ready
            bad = sim.add_video(replica_id=rid, outcome="error", error_reason="audio_too_short")

        ``replica_id`` must name a replica of this simulator (its training decides when the
        video starts and whether it fails with ``replica_in_error_state``), or be left out
        for a video that starts at once. ``generation_seconds`` left out means this
        simulator's ``default_generation_seconds``.

        Raises:
            TypeError: ``spec`` is not a ``VideoSpec``, or a keyword is not one of its fields.
            ValueError: an invalid value (:class:`~prefect_tavus.simulator.spec.InvalidVideoSpec`),
                a ``replica_id`` this simulator does not have, or a ``video_id`` already in use.
        """
        return self.state.add_video(build_video_spec(spec, fields))

    def script_created_videos(self, *specs: VideoSpec, **fields: Any) -> int:
        """Script the next videos created through ``POST /v2/videos``: one spec each, in order.

        For a video your code under test creates, whose id you cannot know in advance::

            sim.script_created_videos(outcome="error", error_reason="audio_too_short")
            sim.script_created_videos(VideoSpec(video_id="vfixed00001", generation_seconds=3))

        Keywords alone script one video. The request's ``replica_id``, ``script``,
        ``audio_url``, key and (when sent) ``video_name`` and ``callback_url`` override the
        spec; ``video_id``, ``outcome``, ``error_reason``, ``generation_seconds``,
        ``queued_seconds``, ``extra_fields`` and ``drop_callback`` come from it. A create
        without a scripted spec gets the defaults (ready after ``default_generation_seconds``).
        Returns how many scripted specs are waiting.
        """
        if fields:
            specs = (*specs, build_video_spec(None, fields))
        return self.state.script_created_videos(specs)

    def script_video_named(
        self, video_name: str, spec: VideoSpec | None = None, /, **fields: Any
    ) -> None:
        """Script the next video created with this ``video_name`` (a :class:`VideoSpec` or its
        fields), whatever order a batch's creates arrive in::

            sim.script_video_named("lead-3", outcome="error", error_reason="audio_too_short")
        """
        self.state.script_video_named(video_name, build_video_spec(spec, fields))

    def video_payload(self, video_id: str, verbose: bool = False) -> dict[str, Any]:
        """What ``GET /v2/videos/{video_id}`` would return right now.

        Raises:
            KeyError: unknown or hard-deleted video.
        """
        payload = self.state.video_payload(video_id, verbose=verbose)
        if payload is None:
            raise KeyError(video_id)
        return payload

    def video_started_at(self, video_id: str) -> float | None:
        """``time.time()`` at which the video started generating; ``None`` if not (yet).

        Never for a video whose replica failed, nor one deleted while queued.

        Raises:
            KeyError: unknown or hard-deleted video.
        """
        return self.state.video_times(video_id)["started_at"]

    def video_finished_at(self, video_id: str) -> float | None:
        """``time.time()`` at which the video became ``ready`` or ``error``; ``None`` if not yet
        (or deleted before). Computed from its timeline, not from when anyone polled.

        Raises:
            KeyError: unknown or hard-deleted video.
        """
        return self.state.video_times(video_id)["finished_at"]

    def video_request(self, video_id: str) -> dict[str, Any] | None:
        """The ``POST /v2/videos`` body that created the video, as received (``None`` for a
        video added from Python): what a test reads to check the body its client sent.

        Raises:
            KeyError: unknown or hard-deleted video.
        """
        return self.state.video_times(video_id)["request"]

    def delete_video(self, video_id: str, hard: bool = False) -> None:
        """Delete a video: soft, it stays with status ``deleted``; hard, it is gone (GET
        answers 400 ``Invalid video_id``, lists omit it). No callback is sent after either.

        Raises:
            KeyError: unknown or hard-deleted video.
        """
        if not self.state.delete_video(video_id, hard=hard):
            raise KeyError(video_id)
