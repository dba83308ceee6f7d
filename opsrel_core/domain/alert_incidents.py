"""Incidents: the failures of one job with one error code within a window are one alert.

Pure rules, no I/O.

- **Key.** A failed execution's alert is deduplicated by job and error code
  (``incident_key``), not by partition: a bad delivery that breaks thirty partitions is one
  alert. Its partitions are listed in ``alert_partition``. Which repeat joins the incident is
  the lifecycle's rule with the incident window (``OPSREL_INCIDENT_WINDOW_SECONDS``, default
  3600): an OPEN incident absorbs a failure within the window after its ``last_seen_at``; an
  ACKNOWLEDGED one absorbs every failure until it is resolved.
- **Text.** The title and message name the partition count and the partitions, the first
  ``LISTED_PARTITIONS`` (in key order) then "and N more" (``describe``).
- **Updates.** When partitions join an incident whose message was already sent, a channel gets
  an UPDATE message only when the partition count reaches a power of two (2, 4, 8, 16, ...) and
  that channel has no update still waiting (a waiting update is rendered when it is sent, so it
  already shows the latest count). Thirty partitions give at most four updates per channel
  (``announces_update``), and none when they all join before the alert is sent.
- **Recovery.** The incident is RESOLVED by recovery only when every partition of it has
  recovered (a successful execution of the same job with an active version of it).
- **Replay.** The replay of an incident runs exactly its partitions that have not recovered.
"""

from collections.abc import Sequence

EXECUTION_FAILED = "EXECUTION_FAILED"
LISTED_PARTITIONS = 10
DEFAULT_WINDOW_SECONDS = 3600.0


def incident_key(error_code: str | None, job_id: str | None) -> str:
    """The dedupe key of a failure incident: ``EXECUTION_FAILED:<error code>:<job>``."""
    return f"{EXECUTION_FAILED}:{error_code}:{job_id}"[:300]


def partition_list(partitions: Sequence[str], count: int, limit: int = LISTED_PARTITIONS) -> str:
    """``"a, b, c"`` or, beyond ``limit``, ``"a, ..., j and 20 more"`` (``count`` in total)."""
    shown = list(partitions[:limit])
    text = ", ".join(shown)
    if count > len(shown):
        text += f" and {count - len(shown)} more"
    return text


def describe(
    *, alert_id: int, catalog_title: str, job_id: str, base_message: str,
    partitions: Sequence[str], count: int,
) -> tuple[str, str]:
    """The ``(title, message)`` of a failure incident.

    Args:
        alert_id: the incident's alert (its replay command names it).
        catalog_title: the error code's title.
        job_id: the failing job.
        base_message: the operator message and the latest execution's error.
        partitions: the first partitions in key order (at least ``LISTED_PARTITIONS`` when there
            are that many); count: how many partitions the incident has.

    Returns:
        One partition: the alert as it always read (``"<title> in <job> [<partition>]"``).
        Several: ``"<title> in <job>: 30 partitions [a, b, ... and 20 more]"`` and a message
        that lists them and gives the replay command of exactly those partitions.
    """
    if count <= 1:
        suffix = f" [{partitions[0]}]" if partitions else ""
        return f"{catalog_title} in {job_id}{suffix}", base_message
    listed = partition_list(partitions, count)
    title = f"{catalog_title} in {job_id}: {count} partitions [{listed}]"
    message = (
        f"{base_message}\n\nPartitions ({count}): {listed}\n"
        f"Replay exactly these partitions: opsrel replay alert {alert_id} --reason \"...\""
    )
    return title, message


def announces_update(count: int) -> bool:
    """Whether an incident that reaches ``count`` partitions sends an UPDATE message: at 2, 4,
    8, 16, ... (each doubling), so N partitions give at most ``floor(log2(N))`` updates."""
    return count >= 2 and count & (count - 1) == 0
