"""The public face of the simulator: start a fake Tavus API on loopback and script it.

There is no network and no Tavus account where this project is tested, demonstrated and
benchmarked, and replicas take hours to train for real. :class:`TavusSimulator` serves the
replica API over real HTTP on ``127.0.0.1`` with training compressed to seconds, and lets the
caller add replicas with chosen outcomes, script faults, revoke keys and read request counts.
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
from prefect_tavus.simulator.spec import ReplicaSpec, build_spec
from prefect_tavus.simulator.state import LIST_ORDERS, MAX_PAGE_SIZE, ListOrder, SimulatorState
from prefect_tavus.simulator.vocabulary import Vocabulary, validate_vocabulary

#: Seconds serve_forever() waits between checks for a shutdown request.
_POLL_INTERVAL = 0.05


class TavusSimulator:
    """A local fake of the Tavus Replicas API, served over HTTP on a daemon thread.

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
        verbose: bool = False,
    ) -> None:
        if isinstance(max_page_size, bool) or not isinstance(max_page_size, int) or max_page_size < 1:
            raise ValueError(f"max_page_size must be a positive integer, got {max_page_size!r}")
        if list_order not in LIST_ORDERS:
            raise ValueError(f"list_order must be one of {', '.join(LIST_ORDERS)}, got {list_order!r}")
        if isinstance(api_keys, str):
            api_keys = (api_keys,)
        self.host = host
        self._requested_port = port
        self.state = SimulatorState(api_keys, default_training_seconds)
        self.state.drop_callbacks = drop_callbacks
        self.state.vocabulary = validate_vocabulary(vocabulary)
        self.state.list_order = list_order
        self.state.max_page_size = max_page_size
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
        self._server = server_class((self.host, self._requested_port), self._app, verbose=self._verbose)
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

    def inject_faults(self, rid_or_star: str, faults: Iterable[Fault]) -> None:
        """Queue ``faults``, consumed one per matching request in order.

        ``"*"`` matches every ``/v2`` request; a route name (``ROUTE_CREATE``, i.e.
        ``"POST /v2/replicas"``, and the others of :data:`ROUTES`, as :meth:`stats` names
        them) every request on that route; a replica id matches ``GET /v2/replicas/{id}``
        and list requests whose ``replica_ids`` include it. A request consumes at most one
        fault: from the replica's script, else the route's, else the ``"*"`` script.
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

        Keys: ``requests`` (API requests), ``by_route`` (e.g. ``"GET /v2/replicas/{id}"``),
        ``by_replica`` (single-replica GETs per id), ``unauthorized`` (401s from the key check),
        ``faults_served``, ``connections`` (TCP connections accepted) and ``callbacks``
        (``delivered``/``failed``/``skipped``/``dropped``). Control-API requests are not counted.
        """
        return self.state.stats()

    def reset_stats(self) -> None:
        """Zero every counter."""
        self.state.reset_stats()

    def reset(self) -> None:
        """Drop all replicas, faults, revocations, pending callbacks and statistics."""
        self.state.reset()
