"""analysis package (see README)."""
