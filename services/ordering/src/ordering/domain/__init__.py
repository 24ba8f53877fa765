"""The order and its saga: pure Python, no I/O, nothing of the project imported."""
