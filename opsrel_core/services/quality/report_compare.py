"""A replay's report beside the results of the executions it replaced, per rule (pure).

"Before" is the newest result per (rule, asset, partition) of the replaced executions in the
partitions the replay covered; "after" is the replay's report. A side without a result (a new
rule, a partition never run before) has the status None, and a line is ``changed`` when the
statuses differ.
"""

from collections.abc import Iterable
from typing import Any

from opsrel_core.domain.dq_outcomes import latest_per_rule, result_key, summary_of
from opsrel_core.services.quality.report_views import DqReportView
from opsrel_core.services.quality.validation_views import ValidationResultView


def comparison(replay_id: int, before_results: Iterable[ValidationResultView],
               after: DqReportView) -> dict[str, Any]:
    """The comparison ``DqReportService.compare`` returns.

    Args:
        replay_id: the replay.
        before_results: the replaced executions' results in the covered partitions (any order).
        after: the replay's report.

    Returns:
        ``{"replay_id", "before": summary, "after": summary, "changed": n, "items": [...]}``,
        the items by rule, asset and partition (see ``DqReportService.compare``).
    """
    before = {result_key(r): r for r in latest_per_rule(before_results)}
    after_items = {result_key(i): i for i in after.items}
    rows = []
    for key in sorted(set(before) | set(after_items)):
        old, new = before.get(key), after_items.get(key)
        rows.append({
            "rule_id": key[0], "asset_key": key[1], "partition_key": key[2],
            "before": old.status if old else None, "after": new.status if new else None,
            "changed": (old.status if old else None) != (new.status if new else None),
            "before_execution_id": old.execution_id if old else None,
            "after_execution_id": new.execution_id if new else None,
            "before_failing_rows": old.failing_rows if old else None,
            "after_failing_rows": new.failing_rows if new else None,
        })
    return {
        "replay_id": replay_id,
        "before": summary_of((r.asset_key, r.status) for r in before.values()),
        "after": after.summary,
        "changed": sum(1 for r in rows if r["changed"]),
        "items": rows,
    }
