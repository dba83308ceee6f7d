"""Domain types: statuses, transition tables, error-code names. No I/O here."""
