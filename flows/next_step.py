"""The step after training: an example of chaining a pipeline on a finished replica.

A replica takes hours to train, so the step that uses it (generating videos) should not
sit in the same process waiting. Instead ``wait_for_replica`` / ``wait_for_replicas``
emit a ``tavus.replica.completed`` event when a replica is done, and a deployment
trigger in ``prefect.yaml`` starts this flow's deployment with the replica's id::

    triggers:
      - type: event
        expect: ["tavus.replica.completed"]
        match: {"prefect.resource.id": "tavus.replica.*"}
        parameters:
          replica_id: "{{ event.resource['tavus.replica.id'] }}"
          tavus_credentials: tavus

``generate_welcome_video`` stands in for that next step. It follows the
callback-confirmation rule: an event (like a Tavus callback) only says *something
happened*; before acting, ask Tavus for the replica and check that it really is
``completed``. A replayed, forged or stale event then costs one GET, never a video
generated from a replica that is not ready. Replace the body with the real work
(``POST /v2/videos`` with the replica id and a script).
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from prefect_tavus.blocks import CredentialsInput
from prefect_tavus.flows._prefect_ui import artifact_key_part
from prefect_tavus.tasks import get_replica
from prefect_tavus.core import ReplicaTrainingFailedError, TavusError, validate_replica_id

__all__ = ["ReplicaNotReadyError", "generate_welcome_video"]



class ReplicaNotReadyError(TavusError):
    """The replica is still training, so nothing may be generated with it yet."""


def _artifact_key(replica_id: str) -> str:
    return "welcome-video-" + artifact_key_part(replica_id)


@flow(name="generate-welcome-video", flow_run_name="welcome-video-{replica_id}")
def generate_welcome_video(replica_id: str, tavus_credentials: CredentialsInput = None) -> str:
    """Stand-in for the step after training: make a welcome video with a finished replica.

    Started by the ``tavus.replica.completed`` trigger of its deployment (see
    ``prefect.yaml``), or directly. It never trusts the event alone: it fetches the
    replica with ``get_replica`` and goes on only if Tavus says it is completed.

    Args:
        replica_id: the replica to use, e.g. ``"rf4e9d9790f0"``.
        tavus_credentials: a ``TavusCredentials`` block, a saved block's name (what the
            deployment passes), or None to use ``TAVUS_API_KEY``.

    Returns:
        A one-line description of the video it would generate.

    Raises:
        ReplicaTrainingFailedError: Tavus says the replica failed training.
        ReplicaNotReadyError: Tavus says the replica is still training.
    """
    replica_id = validate_replica_id(replica_id)
    logger = get_run_logger()
    replica = get_replica(replica_id, tavus_credentials)
    if replica.is_failed:
        raise ReplicaTrainingFailedError(replica)
    if not replica.is_completed:
        raise ReplicaNotReadyError(
            f"Replica {replica_id!r} is not completed according to Tavus ({replica.describe()}); "
            "not generating anything with it. Was the event stale or replayed?",
            replica_id=replica_id,
        )

    name = replica.replica_name or replica_id
    summary = f"Welcome video for {name!r} with replica {replica_id} (stand-in: nothing generated)."
    logger.info("Tavus confirms replica %s is completed; %s", replica_id, summary)
    create_markdown_artifact(
        key=_artifact_key(replica_id),
        markdown=(
            f"# Welcome video for {name}\n\n"
            f"Replica `{replica_id}` is **{replica.status}** ({replica.training_progress or 'n/a'}), "
            "confirmed with Tavus before acting.\n\n"
            "A real pipeline would now call `POST /v2/videos` with this replica and a welcome "
            "script; this example flow only records what it would generate.\n"
        ),
        description=f"What generate-welcome-video would generate with replica {replica_id}",
    )
    return summary
