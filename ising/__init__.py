"""ising package (see README)."""
