"""conductor's benchmarks: `python -m bench` runs them all (see bench/__main__.py and docs/benchmarks.md).

Benchmarks print figures; they are never timed tests. tests/test_bench_smoke.py only checks that the
smallest size of each still runs.
"""
