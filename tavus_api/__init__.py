"""tavus_api: the Prefect-free core of prefect-tavus.

An async client for the Tavus Replicas API, the ``Replica`` model, typed errors and the
retry policy. Nothing here imports Prefect, so it can be used and tested on its own;
``blocks``, ``tasks`` and ``flows`` build the Prefect integration on top of it.
"""

from tavus_api._version import __version__
from tavus_api.client import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, USER_AGENT, TavusClient, count_requests
from tavus_api.errors import (
    InsecureTransportError,
    InvalidReplicaIdError,
    ReplicaNotFoundDuringWaitError,
    ReplicasWaitFailedError,
    ReplicaTrainingFailedError,
    ReplicaWaitTimeoutError,
    TavusAPIUnavailableError,
    TavusAuthenticationError,
    TavusConfigurationError,
    TavusConnectionError,
    TavusError,
    TavusMalformedResponseError,
    TavusNotFoundError,
    TavusRateLimitError,
    TavusRequestError,
    TavusServerError,
    TavusTransientError,
)
from tavus_api.models import (
    FAILURE_STATUSES,
    SUCCESS_STATUSES,
    CreatedReplica,
    Replica,
    ReplicaPage,
    ReplicaPhase,
    parse_progress,
)
from tavus_api.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from tavus_api.validation import (
    DEFAULT_BASE_URL,
    validate_base_url,
    validate_replica_id,
    validate_replica_ids,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RETRY_POLICY",
    "FAILURE_STATUSES",
    "MAX_PAGE_SIZE",
    "SUCCESS_STATUSES",
    "USER_AGENT",
    "CreatedReplica",
    "InsecureTransportError",
    "InvalidReplicaIdError",
    "Replica",
    "ReplicaNotFoundDuringWaitError",
    "ReplicaPage",
    "ReplicaPhase",
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
    "TavusNotFoundError",
    "TavusRateLimitError",
    "TavusRequestError",
    "TavusServerError",
    "TavusTransientError",
    "__version__",
    "count_requests",
    "parse_progress",
    "validate_base_url",
    "validate_replica_id",
    "validate_replica_ids",
]
