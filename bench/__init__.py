"""Benchmarks: `python -m bench quick|full` (what `make bench-quick` / `make bench` run).

See bench/README.md. Results go to bench/results/latest.json (gitignored)."""
