"""Dagster adapters over opsrel_core: resources, sensors, hooks and the example code location."""
