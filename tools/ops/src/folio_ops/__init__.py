"""Folio's operator and development tools, kept out of the service images: the infrastructure bootstrap
(``folio-bootstrap``), the parked-message CLI (``folio-parked``), the token CLI (``folio-token``) and the
development mail sink (``python -m folio_ops.mail_sink``)."""
