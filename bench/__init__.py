"""Benchmarks of the rehost data plane against reference tools (`make bench`)."""
