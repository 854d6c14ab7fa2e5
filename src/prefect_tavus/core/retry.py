"""The one retry policy: which failures are worth retrying, and how long to wait.

Both consumers use it: the ``get_replica`` family of Prefect tasks (through Prefect's own
task retries, see ``tasks/_retry.py``) and the wait engine, which treats a transient
failure as an outage to sit out within a time budget. Keeping the numbers here means a
one-off call and an hours-long wait back off the same way.

Retrying is for idempotent requests only (reads, renames, deletes). A create
(``POST /v2/replicas``) is never retried: not by the client (it sends each request once),
not by the ``create_replica`` tasks (``retries=0``), and not by this policy's users, who ask
:meth:`RetryPolicy.may_resend` with ``idempotent=False``. A second create trains and bills
a second replica.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from prefect_tavus.core.errors import TavusTransientError

__all__ = ["DEFAULT_RETRY_POLICY", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, floored by the server's ``Retry-After``.

    Attributes:
        attempts: total attempts for a one-off call (first try included).
        base_delay: delay before the first retry, in seconds.
        max_delay: cap on the exponential delay.
        jitter: fraction of each delay that is randomised (0 = none, 1 = full jitter),
            so that many clients failing together do not retry together.
        max_retry_after: cap on an honoured ``Retry-After`` (a server asking for an hour
            should not stall a pipeline for an hour without a word).
    """

    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.5
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    @staticmethod
    def is_retryable(error: BaseException) -> bool:
        """Only transient faults are retried; auth, not-found and bad requests never are.

        For idempotent requests; see :meth:`may_resend` for a create.
        """
        return isinstance(error, TavusTransientError)

    def may_resend(self, error: BaseException, *, idempotent: bool) -> bool:
        """Whether sending the failed request again is both useful and harmless.

        For an idempotent request that is :meth:`is_retryable`. A create is not idempotent:
        sending it again is harmless only when ``error`` proves the first one was not
        carried out (it never left this machine, or Tavus refused it with a 429). After a
        read timeout, a reset, a 5xx or a garbled answer, a replica may be training already;
        look for it (``TavusClient.find_replicas``) instead.
        """
        if not self.is_retryable(error):
            return False
        return idempotent or not getattr(error, "may_have_taken_effect", True)

    def nominal_delay(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (1-based), before jitter."""
        return float(min(self.max_delay, self.base_delay * (2 ** max(0, retry_number - 1))))

    def nominal_delays(self) -> list[float]:
        """The delays of a one-off call's retries, in order (for Prefect's task retries)."""
        return [self.nominal_delay(n) for n in range(1, self.attempts)]

    def delay(
        self,
        retry_number: int,
        error: BaseException | None = None,
        *,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait before retry ``retry_number``: jittered backoff, never less than
        the (capped) ``Retry-After`` the server sent with ``error``."""
        nominal = self.nominal_delay(retry_number)
        draw = (rng or random).random()
        backoff = nominal * (1 - self.jitter * draw)
        return max(backoff, self.retry_after_of(error))

    def retry_after_of(self, error: BaseException | None) -> float:
        """The server's ``Retry-After`` carried by ``error``, capped; 0 when none."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return 0.0
        return min(float(retry_after), self.max_retry_after)


DEFAULT_RETRY_POLICY = RetryPolicy()
