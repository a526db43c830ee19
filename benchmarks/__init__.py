"""Benchmarks of the solver against a plain CP-SAT peer (see README.md)."""
