"""HTTP conventions every Folio API shares: problem details, Idempotency-Key, pages."""
