"""Every operation group's handlers, registered by import (gateway/aws/routing.py)."""

from gateway.aws import ops_access, ops_crypto, ops_keys
from gateway.aws.routing import ROUTES

__all__ = ["ROUTES", "ops_access", "ops_crypto", "ops_keys"]
