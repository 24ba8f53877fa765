"""Local infrastructure bootstrap: a database and login role per service, a vhost with a user per service.

Everything is derived from ``contracts.topology`` (see ``definitions``), applied idempotently to live servers
(``postgres``, ``rabbitmq``) or exported for containers (``exporters``). CLI: ``folio-bootstrap``.
"""
