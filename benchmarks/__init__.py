"""Benchmarks for prefect-tavus (run with ``python -m benchmarks.batch_wait``; ``make bench``).

Nothing here is imported by the library or the tests. The package imports nothing from
Prefect at module level, so that the plain-Python approach of the batch-wait benchmark
runs in a process whose CPU time and memory contain no Prefect at all.
"""
