"""The Dagster sensors opsrel adds to a code location; each acts as itself (``acting``).

- ``projection``: the projection sensor and the run-failure sensor (runs into the ops schema);
- ``late_partitions``: partition deadlines (BAT-015);
- ``landing``: a partition runs when its landing file arrives or changes;
- ``replay_launch``: requested replays launched through Dagster, exactly once;
- ``stop_delivery``: recorded stops delivered to Dagster (called by the replay-launch sensor);
- ``alert_dispatch``: pending alert deliveries sent.
"""
