"""One driver per transport; a new transport (XKS, an AWS-compatible API) is one more module here."""

from __future__ import annotations

from gateway.bench.gw.drivers.base import Driver, WrongAnswer
from gateway.bench.gw.drivers.grpc import GrpcDriver
from gateway.bench.gw.drivers.rest import RestDriver
from gateway.bench.gw.drivers.xks import XksDriver

DRIVERS: dict[str, type[Driver]] = {"grpc": GrpcDriver, "rest": RestDriver, "xks": XksDriver}
TRANSPORTS = tuple(DRIVERS)

__all__ = ["DRIVERS", "TRANSPORTS", "Driver", "WrongAnswer"]
