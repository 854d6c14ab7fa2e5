"""The ``/_sim`` control API: drive a simulator that runs in another process.

The demo, the CLI and benchmarks may start the simulator as a separate process, where the
Python methods of :class:`~prefect_tavus.simulator.TavusSimulator` are out of reach. These routes
expose the same operations over HTTP. They need no API key (the simulator only listens on
loopback unless told otherwise) and are never counted in the request statistics.

Routes: ``GET /_sim/health``, ``GET /_sim/stats``, ``POST /_sim/stats/reset``,
``POST /_sim/reset``, ``POST /_sim/replicas`` (a :class:`ReplicaSpec` object),
``GET /_sim/replicas/{id}``, ``POST /_sim/videos`` (a :class:`VideoSpec` object),
``GET /_sim/videos/{id}`` (payload, ``started_at``, ``finished_at``, ``request``),
``POST /_sim/videos/script`` (``{"videos": [VideoSpec, ...]}``: the next ``POST /v2/videos``
creates), ``POST /_sim/faults``, ``POST /_sim/revoke`` and ``POST /_sim/delete``
(``{"replica_id": ...}`` or ``{"video_id": ..., "hard": bool}``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from prefect_tavus.simulator.faults import Fault
from prefect_tavus.simulator.spec import ReplicaSpec, VideoSpec
from prefect_tavus.simulator.state import SimulatorState
from prefect_tavus.simulator.wire import BadRequest, Request, Response

CONTROL_PREFIX = "/_sim"


def is_control_path(path: str) -> bool:
    """Whether ``path`` belongs to the control API."""
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


class ControlApi:
    """Serves ``/_sim`` requests against a :class:`SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def handle(self, request: Request) -> Response:
        """Serve one control request; unknown routes get 404, bad input 400."""
        segments = [unquote(part) for part in request.path.rstrip("/").split("/")[2:]]
        method = request.method
        try:
            if segments == ["health"] and method == "GET":
                return Response.json(200, {"status": "ok"})
            if segments == ["stats"] and method == "GET":
                return Response.json(200, self.state.stats())
            if segments == ["stats", "reset"] and method == "POST":
                self.state.reset_stats()
                return Response.json(200, {"reset": True})
            if segments == ["reset"] and method == "POST":
                self.state.reset()
                return Response.json(200, {"reset": True})
            if segments == ["replicas"] and method == "POST":
                return self._add_replica(request.json_object())
            if len(segments) == 2 and segments[0] == "replicas" and method == "GET":
                return self._replica(segments[1], request.flag("verbose"))
            if segments == ["videos"] and method == "POST":
                return self._add_video(request.json_object())
            if segments == ["videos", "script"] and method == "POST":
                return self._script_videos(request.json_object())
            if len(segments) == 2 and segments[0] == "videos" and method == "GET":
                return self._video(segments[1], request.flag("verbose"))
            if segments == ["faults"] and method == "POST":
                return self._faults(request.json_object())
            if segments == ["revoke"] and method == "POST":
                return self._revoke(request.json_object())
            if segments == ["delete"] and method == "POST":
                return self._delete(request.json_object())
        except BadRequest as exc:
            return Response.error(400, exc.message)
        return Response.error(404, "Not found")

    def _add_replica(self, body: dict[str, Any]) -> Response:
        try:
            spec = ReplicaSpec.from_dict(body)
            replica_id = self.state.add_replica(spec)
        except ValueError as exc:  # InvalidReplicaSpec, or a replica_id already in use
            raise BadRequest(str(exc)) from None
        return Response.json(200, {"replica_id": replica_id})

    def _replica(self, replica_id: str, verbose: bool) -> Response:
        payload = self.state.payload(replica_id, verbose=verbose)
        if payload is None:
            return Response.error(404, "Unknown replica_id")
        try:
            finished_at = self.state.finished_at(replica_id)
        except KeyError:
            return Response.error(404, "Unknown replica_id")
        return Response.json(200, {"payload": payload, "finished_at": finished_at})

    def _faults(self, body: dict[str, Any]) -> Response:
        target = body.get("target")
        faults = body.get("faults")
        if not isinstance(target, str) or not target:
            raise BadRequest("target must be a replica or video id, a route or '*'")
        if not isinstance(faults, list):
            raise BadRequest("faults must be a list")
        try:
            parsed = [Fault.from_dict(item) for item in faults]
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        queued = self.state.inject_faults(target, parsed)
        return Response.json(200, {"target": target, "queued": queued})

    def _revoke(self, body: dict[str, Any]) -> Response:
        api_key = body.get("api_key")
        if not isinstance(api_key, str) or not api_key:
            raise BadRequest("api_key is required")
        self.state.revoke_key(api_key)
        return Response.json(200, {"revoked": api_key})

    def _add_video(self, body: dict[str, Any]) -> Response:
        try:
            spec = VideoSpec.from_dict(body)
            video_id = self.state.add_video(spec)
        except ValueError as exc:  # InvalidVideoSpec, an unknown replica or a video_id in use
            raise BadRequest(str(exc)) from None
        return Response.json(200, {"video_id": video_id})

    def _script_videos(self, body: dict[str, Any]) -> Response:
        videos = body.get("videos")
        if not isinstance(videos, list):
            raise BadRequest("videos must be a list of video specs")
        try:
            specs = [VideoSpec.from_dict(item) for item in videos]
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return Response.json(200, {"queued": self.state.script_created_videos(specs)})

    def _video(self, video_id: str, verbose: bool) -> Response:
        payload = self.state.video_payload(video_id, verbose=verbose)
        try:
            times = self.state.video_times(video_id)
        except KeyError:
            return Response.error(404, "Unknown video_id")
        if payload is None:
            return Response.error(404, "Unknown video_id")
        return Response.json(200, {"payload": payload, **times})

    def _delete(self, body: dict[str, Any]) -> Response:
        if "video_id" in body:
            return self._delete_video(body)
        replica_id = body.get("replica_id")
        if not isinstance(replica_id, str) or not replica_id:
            raise BadRequest("replica_id is required")
        if not self.state.delete(replica_id):
            return Response.error(404, "Unknown replica_id")
        return Response.json(200, {"deleted": replica_id})

    def _delete_video(self, body: dict[str, Any]) -> Response:
        video_id = body.get("video_id")
        hard = body.get("hard", False)
        if not isinstance(video_id, str) or not video_id:
            raise BadRequest("video_id must be a non-empty string")
        if not isinstance(hard, bool):
            raise BadRequest("hard must be true or false")
        if not self.state.delete_video(video_id, hard=hard):
            return Response.error(404, "Unknown video_id")
        return Response.json(200, {"deleted": video_id, "hard": hard})
