"""Request dispatch: which API serves a request, and what a scripted fault does to it.

This is the one place that knows the order of events for an API request: count it, consume
a fault (before the key check, so a scripted 503 is a 503 whatever the key), then
authenticate and serve. It returns what to send, or ``None`` for "close the connection
without answering", and leaves all socket work to :mod:`prefect_tavus.simulator.server`.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect_tavus.simulator.api import (
    ROUTE_GET,
    ROUTE_VIDEO_GET,
    TavusApi,
    fault_targets,
    is_api_path,
    match_route,
)
from prefect_tavus.simulator.control import ControlApi, is_control_path
from prefect_tavus.simulator.faults import GARBAGE_BODY, Fault
from prefect_tavus.simulator.state import SimulatorState
from prefect_tavus.simulator.wire import Request, Response

# Stands in for an empty body when a ``truncated`` fault hits a request that has none.
_TRUNCATION_FALLBACK = b'{"status":"ok"}'

#: Waits the given seconds; returns True if interrupted because the server is stopping.
Waiter = Callable[[float], bool]


class SimulatorApp:
    """Routes requests to the Tavus API or the control API and applies scripted faults."""

    def __init__(self, state: SimulatorState, delete_status: int = 200) -> None:
        self.state = state
        self.api = TavusApi(state, delete_status=delete_status)
        self.control = ControlApi(state)

    def handle(self, request: Request, wait: Waiter) -> Response | None:
        """Serve ``request``; ``None`` means drop the connection without a response."""
        if is_control_path(request.path):
            return self.control.handle(request)
        if not is_api_path(request.path):
            return Response.error(404, "Not found")
        route = match_route(request.method, request.path)
        self.state.record_request(
            route.name,
            route.replica_id if route.name == ROUTE_GET else None,
            route.video_id if route.name == ROUTE_VIDEO_GET else None,
        )
        fault = self.state.take_fault(fault_targets(route, request))
        if fault is None:
            return self.api.handle(route, request)
        return self._apply(fault, lambda: self.api.handle(route, request), wait)

    @staticmethod
    def _apply(fault: Fault, serve: Callable[[], Response], wait: Waiter) -> Response | None:
        if fault.kind == "status":
            return _status_response(fault)
        if fault.kind == "drop":
            return None
        if fault.kind == "delay":
            if wait(fault.seconds):
                return None
            return serve()
        if fault.kind == "lost_answer":
            serve()  # it takes effect; the answer is never sent
            return None
        if fault.kind == "late_answer":
            response = serve()  # it takes effect now; the answer follows later (or never)
            if wait(fault.seconds):
                return None
            return response
        if fault.kind == "garbage":
            serve()
            return Response(status=200, body=GARBAGE_BODY, content_type="application/json")
        # truncated: serve for real, then send only the first half of the JSON.
        body = serve().body or _TRUNCATION_FALLBACK
        return Response(
            status=200, body=body[: max(len(body) // 2, 1)], content_type="application/json"
        )


def _status_response(fault: Fault) -> Response:
    headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
    body = (fault.body or "").encode("utf-8")
    return Response(
        status=fault.code or 500,
        body=body,
        content_type="application/json" if body else None,
        headers=headers,
    )
