"""For development, tests and demonstrations only: in-memory FHIR test nodes, a harness
that runs them with an exchange, a made-up London population, and demo signing keys."""

from healthycity.exchange.dev.devkeys import DemoIssuer
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.dev.testserver import Faults, FhirStore, NodeServers

__all__ = ["DemoIssuer", "Faults", "FhirStore", "Harness", "NodeServers"]
