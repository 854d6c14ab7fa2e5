"""Training-finished and video callbacks, as Tavus sends them to a ``callback_url``.

Tavus POSTs ``{"replica_id": ..., "status": "ready"}`` (or ``"error"`` with an
``error_message``) when training ends, and the whole video object (with
``generation_progress``) when a video is ready or fails. The simulator does the same from one background
thread that sleeps until the next callback is due. Deliveries are best effort (5 s timeout,
no retry) and only ever go to loopback addresses: a simulator must not be usable to make a
test machine POST to arbitrary hosts.
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

CallbackResult = Literal["delivered", "failed", "skipped", "dropped"]

#: Seconds a callback delivery may take before it is abandoned.
DELIVERY_TIMEOUT = 5.0

#: Longest single sleep of the scheduler thread (it re-checks the heap after it).
_MAX_SLEEP_SECONDS = 3600.0

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL whose host is a loopback address or ``localhost``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: What a scheduled callback is about: a replica id, or ``("video", video_id)``.
CallbackKey = str | tuple[str, str]

# Resolves a key to (callback URL, JSON payload) when its callback is due, or None when it
# should not be sent any more (deleted replica or video, simulator reset).
Resolver = Callable[[CallbackKey], tuple[str, dict[str, Any]] | None]


class CallbackDispatcher:
    """Sends each scheduled callback when its replica's training (or its video) ends.

    One scheduler thread (started on first use) waits on a heap of due times; each delivery
    runs on its own short-lived daemon thread so a slow receiver cannot delay the others.
    """

    def __init__(self, resolver: Resolver, on_result: Callable[[CallbackResult], None]) -> None:
        self._resolver = resolver
        self._on_result = on_result
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, CallbackKey]] = []
        self._sequence = 0
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._deliveries: set[threading.Thread] = set()
        # Never route loopback callbacks through an HTTP proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def schedule(self, replica_id: CallbackKey, due: float) -> None:
        """Send the callback of ``replica_id`` (or of a ``("video", id)`` key) at ``due``
        (a ``time.time()`` value)."""
        with self._condition:
            if self._stopped:
                return
            self._sequence += 1
            heapq.heappush(self._heap, (due, self._sequence, replica_id))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tavus-simulator-callbacks", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def clear(self) -> None:
        """Forget every pending callback (deliveries already under way still finish)."""
        with self._condition:
            self._heap.clear()
            self._condition.notify()

    def stop(self, timeout: float = 0.5) -> None:
        """Stop the scheduler thread and wait up to ``timeout`` for running deliveries."""
        with self._condition:
            self._stopped = True
            self._heap.clear()
            self._condition.notify()
            thread = self._thread
            deliveries = list(self._deliveries)
        deadline = time.monotonic() + timeout
        for worker in ([thread] if thread else []) + deliveries:
            worker.join(max(deadline - time.monotonic(), 0.0))

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped:
                    if self._heap:
                        wait = self._heap[0][0] - time.time()
                        if wait <= 0:
                            break
                        # Woken by schedule()/stop() anyway; the cap keeps the timeout
                        # valid however far away the next callback is.
                        self._condition.wait(min(wait, _MAX_SLEEP_SECONDS))
                    else:
                        self._condition.wait()
                if self._stopped:
                    return
                _, _, replica_id = heapq.heappop(self._heap)
            resolved = self._resolver(replica_id)
            if resolved is None:
                continue
            url, payload = resolved
            worker = threading.Thread(
                target=self._deliver,
                args=(url, payload),
                name="tavus-simulator-callback",
                daemon=True,
            )
            with self._condition:
                self._deliveries.add(worker)
            worker.start()

    def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        result: CallbackResult = "failed"
        try:
            request = urllib.request.Request(
                url,
                data=json.dumps(payload).encode("utf-8"),
                headers={"Content-Type": "application/json", "User-Agent": "TavusSimulator"},
                method="POST",
            )
            with self._opener.open(request, timeout=DELIVERY_TIMEOUT) as response:
                response.read()
                result = "delivered"
        except urllib.error.HTTPError as exc:
            # The receiver answered, but not with 2xx: counted as a failed delivery.
            exc.close()
        except (OSError, ValueError):
            result = "failed"
        finally:
            self._on_result(result)
            with self._condition:
                self._deliveries.discard(threading.current_thread())
