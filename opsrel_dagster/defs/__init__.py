"""Dagster definitions per domain, one sub-package each (``flights``: the example pipeline).

Each domain exposes ``defs`` (a ``dg.Definitions``); ``opsrel_dagster/definitions.py`` merges them.
"""
