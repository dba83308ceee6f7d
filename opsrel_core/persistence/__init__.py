"""Persistence of the ops schema: tables, engine factory, unit of work."""
