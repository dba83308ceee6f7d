"""``ReplayService``: replay requests, their status and their history, over the ops database.

The core does not know Dagster: an adapter asks for a replay (``request``), launches
``launch_plan(replay)`` and nothing else, reports ``mark_launched``, and lets ``refresh_status``
derive the status from the executions that land with ``replay_id`` set. The use cases live in
``requests``, ``lifecycle`` and ``reads``; this class binds them to one engine and one limit.
"""

import sqlalchemy as sa

from opsrel_core.services.replays.lifecycle import ReplayLifecycle
from opsrel_core.services.replays.reads import ReplayReads
from opsrel_core.services.replays.requests import ReplayRequests


class ReplayService(ReplayRequests, ReplayLifecycle, ReplayReads):
    """Records replay requests, derives their status and reads their history.

    Every public method retries transient database errors (SYS-002 after its attempts).

    Args:
        engine: engine of the ops database.
        max_pending_per_operator: an operator's limit of replays REQUESTED, RUNNING or STOPPING
            at once (``replay_limits``); None: ``OpsSettings.from_env()``'s
            (``OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR``), read when the service is built.
    """

    def __init__(self, engine: sa.Engine, *, max_pending_per_operator: int | None = None):
        self._engine = engine
        if max_pending_per_operator is None:
            from opsrel_core.config import OpsSettings

            max_pending_per_operator = OpsSettings.from_env().max_pending_replays_per_operator
        self._max_pending = max_pending_per_operator
