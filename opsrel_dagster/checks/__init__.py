"""Pandera rules as Dagster asset checks, recorded in the ops schema.

- ``rules``: ``PanderaRule`` and ``TableMeasure``, a rule as a domain declares it, its stored
  definition and version (``load_rule``, ``register_pandera_rule``);
- ``rule_codec``: a rule's schema as loadable JSON, and the dtype normalizations it validates
  with;
- ``evaluation``: one rule on one frame (``evaluate_rule``), pandera's lazy failure cases as DQ
  items (``failure_items``);
- ``recording``: a check's rule version and results in the ops schema;
- ``results``: an outcome as Dagster's ``AssetCheckResult`` and its metadata;
- ``factory``: ``pandera_asset_checks``, one ``@dg.asset_check`` per rule on an asset.

A failed FAIL rule's check result carries ``error_code`` = ``DQ-001`` in its metadata; a check
that cannot evaluate records ERROR and raises ``dg.Failure`` with ``DQ-003``.
"""
