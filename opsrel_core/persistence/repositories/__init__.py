"""Repositories: the SQL of each concept, over a connection of a unit of work."""
