"""A Django app whose unmanaged models map onto the console's tables (bench_peers.py's peer)."""
