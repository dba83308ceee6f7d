"""The SPEC's services: use cases over a unit of work."""
