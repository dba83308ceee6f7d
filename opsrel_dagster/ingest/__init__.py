"""What every domain's SOURCE and SNAPSHOT steps share, for any code location.

* ``metadata``: the materialization metadata keys these steps write, and ``column_schema``;
* ``partition_values``: a step's value per partition in a single-partition run and a range run
  alike, and the coded failure of one partition;
* ``landing``: the checks every delivered CSV file gets (``INP-001``/``INP-002``/``INP-003``,
  ``EXT-001``);
* ``sources``: the SOURCE step: each partition loaded through the domain's loader;
* ``snapshots``: content-addressed snapshots of a partition's input and the SNAPSHOT step;
* ``outputs``: the output of a step below the snapshot (its tables stamped with the snapshot).

A domain gives its loader, its columns and how a batch holds its rows; nothing here reads a
domain's asset names.
"""
