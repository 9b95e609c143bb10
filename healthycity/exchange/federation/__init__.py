"""Asking the nodes: the concurrent fan-out, each node's client and circuit breaker,
validation of what they send, the node registry, and signed links to their documents."""

from healthycity.exchange.federation.fanout import (
    Federator,
    Merged,
    NodeRequest,
    NodeResult,
    NodeTarget,
    federator_for,
    follow,
    merge,
    searchset,
)
from healthycity.exchange.federation.validation import ResourceValidator

__all__ = [
    "Federator",
    "Merged",
    "NodeRequest",
    "NodeResult",
    "NodeTarget",
    "ResourceValidator",
    "federator_for",
    "follow",
    "merge",
    "searchset",
]
