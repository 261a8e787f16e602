"""Benchmark harness: sanic-wsns against a raw Sanic floor and python-socketio.

``python -m bench.run`` starts every target as a subprocess on free loopback ports, drives
it from a separate load-generator process (``bench.loadgen``), reads the server's CPU and
memory from ``/proc`` (``bench.procstat``) and writes ``bench/BENCHMARKS.md``.
"""
