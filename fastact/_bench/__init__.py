"""Benchmarks of fastact: the case table, timing, peers, roofline, reports and plots.

``fastact bench`` (``fastact/cli.py``) and the pytest-benchmark suite
(``bench/``) both iterate over :func:`cases.build_cases`, the one case table
generated from the registry.
"""
