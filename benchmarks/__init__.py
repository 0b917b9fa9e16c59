"""Reproducible overhead benchmarks of the sidecar beside nginx (`python -m benchmarks run`)."""
