"""Request identity: when a replay request is the same request again, and whose key it is.

A client's request key (``Idempotency-Key``, ``--request-key``, the landing sensor's
``landing:<day>:<sha256>``) is stored scoped to the operator who sent it, as
``<operator_id>/<key>`` (``scoped_key``), so no operator can reach another's replay, or a
sensor's, by sending the same key: each operator's keys are their own. A scoped key longer than
the column (200 characters) keeps the operator and replaces the key by ``sha256:<hex>`` of it.
A request without a key gets a fresh uuid4, which contains no ``/`` and so never equals a scoped
key.

The same scoped key with the same request (type, job, partition keys, reason) and the same operator
returns the replay recorded first; any other reuse is refused (``ensure_same_request``, BAT-009
as a ``ConflictException``: HTTP 409). Pure functions; no I/O.
"""

import dataclasses
import hashlib
from collections.abc import Sequence

from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException, ConflictException

MAX_STORED_KEY = 200  # replay.request_key is String(200)
MAX_CLIENT_KEY = 200


@dataclasses.dataclass(frozen=True)
class RequestIdentity:
    """What makes two replay requests the same request.

    Attributes:
        replay_type: ``SINGLE``, ``RANGE`` or ``FULL``.
        job_id, operator_id: as asked.
        reason: compared without surrounding whitespace.
        partitions: the plan's keys; None for a replay recorded before plans were stored (then
            ``partition_start``/``partition_end`` are compared instead).
        partition_start, partition_end: the first and last key.
    """

    replay_type: str
    job_id: str
    operator_id: str
    reason: str
    partitions: tuple[str, ...] | None
    partition_start: str | None
    partition_end: str | None


def identity(
    *, replay_type: str, job_id: str, operator_id: str, reason: str,
    partitions: Sequence[str] | None, partition_start: str | None, partition_end: str | None,
) -> RequestIdentity:
    """Build a ``RequestIdentity`` (from a plan, or from a stored replay row)."""
    return RequestIdentity(
        replay_type=replay_type.upper(), job_id=job_id, operator_id=operator_id,
        reason=reason.strip(), partitions=None if partitions is None else tuple(partitions),
        partition_start=partition_start, partition_end=partition_end,
    )


def scoped_key(operator_id: str, request_key: str) -> str:
    """The stored form of an operator's request key: ``<operator_id>/<request_key>``.

    Raises:
        BatchExecutionException: BAT-009 when the key is not 1..200 characters or blank.
    """
    if not isinstance(request_key, str) or not request_key.strip() or len(request_key) > MAX_CLIENT_KEY:
        raise BatchExecutionException(
            error_codes.BAT_REPLAY_INVALID,
            f"request_key must be 1..{MAX_CLIENT_KEY} non-blank characters: {request_key!r}")
    scoped = f"{operator_id}/{request_key}"
    if len(scoped) > MAX_STORED_KEY:
        scoped = f"{operator_id}/sha256:{hashlib.sha256(request_key.encode()).hexdigest()}"
    return scoped


def client_key(operator_id: str, stored_key: str) -> str:
    """The key as its operator sent it (``stored_key`` without the ``<operator_id>/`` scope)."""
    prefix = f"{operator_id}/"
    return stored_key[len(prefix):] if stored_key.startswith(prefix) else stored_key


def same_request(stored: RequestIdentity, asked: RequestIdentity) -> bool:
    """True when ``asked`` is the request recorded as ``stored``."""
    if (stored.replay_type, stored.job_id, stored.operator_id, stored.reason) != (
        asked.replay_type, asked.job_id, asked.operator_id, asked.reason
    ):
        return False
    if stored.partitions is None:
        return (stored.partition_start, stored.partition_end) == (
            asked.partition_start, asked.partition_end)
    return stored.partitions == asked.partitions


def ensure_same_request(
    stored: RequestIdentity, asked: RequestIdentity, request_key: str, replay_id: int
) -> None:
    """Refuse a request key reused for a different request.

    Raises:
        ConflictException: BAT-009 naming the replay already recorded under the key and what
            differs; nothing is written.
    """
    if same_request(stored, asked):
        return
    differs = [name for name in ("replay_type", "job_id", "operator_id", "reason")
               if getattr(stored, name) != getattr(asked, name)]
    if not differs:
        differs = ["partitions"]
    raise ConflictException(
        error_codes.BAT_REPLAY_INVALID,
        f"request key {request_key!r} was already used by replay {replay_id} for another request "
        f"({stored.replay_type} {stored.partition_start}..{stored.partition_end}, reason "
        f"{stored.reason!r}; differs in {', '.join(differs)}); use a new key for a different "
        "request; nothing was recorded",
        {"replay_id": replay_id, "conflict": "request_key", "differs": differs},
    )
