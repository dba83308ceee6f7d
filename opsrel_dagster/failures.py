"""Turn opsrel errors into Dagster failures that carry the error code.

The projection reads ``error_code`` (and ``operator_message``) back from the step failure event's
user failure metadata, so an execution row gets the code without a second channel.
"""

import dagster as dg

from opsrel_core.errors import OpsException

ERROR_CODE_KEY = "error_code"
OPERATOR_MESSAGE_KEY = "operator_message"


def as_failure(exc: OpsException, *, asset_key: str, partition_key: str | None) -> dg.Failure:
    """Build the ``dg.Failure`` to raise for a coded opsrel error.

    Args:
        exc: the coded error.
        asset_key: the failing asset, e.g. ``"raw_flights"``.
        partition_key: the failing partition (``"2013-01-01"``) or None.

    Returns:
        A Failure whose description is the operator message and whose metadata holds
        ``error_code``, ``operator_message``, ``asset_key``, ``partition_key`` and ``details``;
        the Dagster UI shows them on the failed step.
    """
    metadata: dict[str, object] = {
        ERROR_CODE_KEY: exc.code,
        OPERATOR_MESSAGE_KEY: exc.operator_message,
        "asset_key": asset_key,
        "partition_key": partition_key or "",
    }
    if exc.details:
        metadata["details"] = dg.MetadataValue.json(exc.details)
    return dg.Failure(description=f"[{exc.code}] {exc.operator_message}", metadata=metadata)
