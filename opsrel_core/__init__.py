"""opsrel core: framework-free domain code and persistence for the ops schema.

This package never imports dagster; ``opsrel_dagster`` adapts Dagster to it.
"""

__version__ = "0.1.0"
