"""Catalog's domain: books, their authors, categories and publishers, stock and its reservations.

Pure Python: no I/O, and nothing from the rest of the project.
"""
