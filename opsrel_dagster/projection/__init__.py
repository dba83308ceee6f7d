"""The projection of Dagster's runs into the ops schema, and what a run tells of its results.

- ``apply``: ``RunProjection``, a run's execution brought up to date in the ops schema;
- ``read``: a Dagster run read from the instance's storage as one ``RunObservation``;
- ``events``: Dagster's run statuses and event records as the core's observations;
- ``sync``: every run whose status changed since a stored cursor, then open executions,
  lost workers and open replays (``SyncReport``);
- ``launch_facts``: a run's launch facts and check evidence, for the core's rules;
- ``provenance``: an ended execution's context, lineage and data-quality report.
"""
