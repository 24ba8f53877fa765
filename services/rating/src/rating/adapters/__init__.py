"""Rating's tables, repositories, read queries and message mapping."""
