"""Local infrastructure bootstrap: a database and login role per service, a vhost with a user per service.

Everything is derived from ``contracts.topology`` (see ``definitions``) into one description per server (the
steps of ``postgres_plan``, the document of ``exporters``), exported for containers or applied idempotently
to live servers (``postgres``, ``rabbitmq``). CLI: ``folio-bootstrap``.
"""
