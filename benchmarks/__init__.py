"""Benchmarks of the plugin's hot paths; run them as `python -m benchmarks.<name>`."""
