"""The one request pipeline every transport runs, and the services a transport is handed.

A transport decodes its wire format, names the operation (a catalog entry), says where its
credentials are and which fields the audit line records, and encodes the answer or the rendered
error; everything between is :class:`Pipeline`. See pipeline.py for the rules it enforces.
"""

from gateway.pipeline.contracts import ClientGone, ErrorDialect, ErrorEnvelope, Exchange
from gateway.pipeline.pipeline import Endpoint, Failure, Pipeline
from gateway.pipeline.services import Services

__all__ = [
    "ClientGone",
    "Endpoint",
    "ErrorDialect",
    "ErrorEnvelope",
    "Exchange",
    "Failure",
    "Pipeline",
    "Services",
]
