"""prefect_tavus.core: the Prefect-free core of prefect-tavus.

An async client for the Tavus Replicas API, the ``Replica`` model, typed errors and the
retry policy. Nothing here imports Prefect, so it can be used and tested on its own;
``blocks``, ``tasks`` and ``flows`` build the Prefect integration on top of it.
"""

from prefect_tavus._version import __version__
from prefect_tavus.core.client import (
    DEFAULT_CLOCK_SKEW_SECONDS,
    DEFAULT_FIND_MAX_PAGES,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    USER_AGENT,
    TavusClient,
    count_requests,
)
from prefect_tavus.core.errors import (
    InsecureTransportError,
    InvalidReplicaIdError,
    ReplicaCreateOutcomeUnknownError,
    ReplicaNotFoundDuringWaitError,
    ReplicaSearchIncompleteError,
    ReplicasWaitFailedError,
    ReplicaTrainingFailedError,
    ReplicaWaitTimeoutError,
    TavusAPIUnavailableError,
    TavusAuthenticationError,
    TavusConfigurationError,
    TavusConnectionError,
    TavusError,
    TavusMalformedResponseError,
    PrefectAPITransientError,
    TavusNotFoundError,
    TavusRateLimitError,
    TavusRequestError,
    TavusServerError,
    TavusTransientError,
)
from prefect_tavus.core.models import (
    FACE_FIELD_NAMES,
    FAILURE_STATUSES,
    SUCCESS_STATUSES,
    CreatedReplica,
    Replica,
    ReplicaPage,
    ReplicaPhase,
    parse_progress,
)
from prefect_tavus.core.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from prefect_tavus.core.waiting import (
    DEFAULT_TIMEOUT_SECONDS,
    Outcome,
    ReplicaOutcome,
    WaitResult,
    WaitSettings,
)
from prefect_tavus.core.validation import (
    DEFAULT_BASE_URL,
    validate_base_url,
    validate_replica_id,
    validate_replica_ids,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CLOCK_SKEW_SECONDS",
    "DEFAULT_FIND_MAX_PAGES",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT_SECONDS",
    "FACE_FIELD_NAMES",
    "FAILURE_STATUSES",
    "MAX_PAGE_SIZE",
    "Outcome",
    "SUCCESS_STATUSES",
    "USER_AGENT",
    "CreatedReplica",
    "InsecureTransportError",
    "InvalidReplicaIdError",
    "Replica",
    "ReplicaCreateOutcomeUnknownError",
    "ReplicaNotFoundDuringWaitError",
    "ReplicaOutcome",
    "ReplicaPage",
    "ReplicaPhase",
    "ReplicaSearchIncompleteError",
    "ReplicaTrainingFailedError",
    "ReplicaWaitTimeoutError",
    "ReplicasWaitFailedError",
    "RetryPolicy",
    "TavusAPIUnavailableError",
    "TavusAuthenticationError",
    "TavusClient",
    "TavusConfigurationError",
    "TavusConnectionError",
    "TavusError",
    "TavusMalformedResponseError",
    "PrefectAPITransientError",
    "TavusNotFoundError",
    "TavusRateLimitError",
    "TavusRequestError",
    "TavusServerError",
    "TavusTransientError",
    "WaitResult",
    "WaitSettings",
    "__version__",
    "count_requests",
    "parse_progress",
    "validate_base_url",
    "validate_replica_id",
    "validate_replica_ids",
]
