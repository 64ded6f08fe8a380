"""Scenario groups; importing this package registers them all, in table order."""

from benchmarks.scenarios import asymmetric, aws, gateway, grpc_echo, load64, mixed, moto_peer, raw_hsm, testkit, xks

# Import order is not run order for ruff's sake; the runner sorts by this list.
GROUP_ORDER = ["raw", "grpc", "moto", "gateway"]

__all__ = [
    "GROUP_ORDER",
    "asymmetric",
    "aws",
    "gateway",
    "grpc_echo",
    "load64",
    "mixed",
    "moto_peer",
    "raw_hsm",
    "testkit",
    "xks",
]
