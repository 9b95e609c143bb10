"""Legitimate relationships derived from what the local exchanges hold.

:mod:`.derivation` turns a node's records into relationship facts (pure),
:mod:`.storage` keeps them as rows of ``exchange_relationship``, and :mod:`.refresher`
asks the nodes, on demand (``exchange relationships refresh``) or on a schedule.
"""

from healthycity.exchange.access.relationships.derivation import (
    ODS_ORGANISATION_SYSTEM,
    SDS_USER_SYSTEM,
    UNKNOWN_START,
    Derivation,
    DerivationRules,
    DerivedRelationship,
    derive,
    node_source,
    references_to_fetch,
)
from healthycity.exchange.access.relationships.refresher import (
    PersonOutcome,
    RefreshReport,
    all_person_ids,
    refresh,
    watch,
)
from healthycity.exchange.access.relationships.storage import (
    forget_unlinked_nodes,
    sync_person_node,
)

__all__ = [
    "ODS_ORGANISATION_SYSTEM",
    "SDS_USER_SYSTEM",
    "UNKNOWN_START",
    "Derivation",
    "DerivationRules",
    "DerivedRelationship",
    "PersonOutcome",
    "RefreshReport",
    "all_person_ids",
    "derive",
    "forget_unlinked_nodes",
    "node_source",
    "references_to_fetch",
    "refresh",
    "sync_person_node",
    "watch",
]
