"""Rating's rules: feedback on books, the books rating knows of, and verified purchases. Pure Python."""
