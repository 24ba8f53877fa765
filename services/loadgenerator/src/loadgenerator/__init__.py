"""Folio's load generator: books through the catalog API, orders at rising rates through the ordering API,
and the figures that come back (throughput, placed→confirmed latency), as a table, JSON and a chart."""
