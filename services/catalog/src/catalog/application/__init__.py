"""Catalog's use cases: commands that change books and stock, queries that read the book view."""
