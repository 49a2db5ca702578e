"""rbm package (see README)."""
