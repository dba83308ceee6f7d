"""The opsrel application over Dagster: the ``opsrel`` console script (``app.cli``), the headless
runner behind ``opsrel run``, ``sync`` and ``replay`` (``app.runner``) and ``opsrel reproduce``
(``app.reproduce``). It takes its jobs from the assembly, never from a domain; no library module
imports it."""
