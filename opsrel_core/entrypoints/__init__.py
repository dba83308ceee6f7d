"""Entry points: the CLI (click) and, later, the HTTP API. The only place such frameworks are imported."""
