"""Who is who: the enterprise person index, NHS numbers, demographic matching and
offline linkage, and the stewards' review queue and link/unlink decisions."""

from healthycity.exchange.identity.index import (
    Demographics,
    Scorer,
    are_twins,
    demographics_of,
    index_patient,
    person_by_nhs_number,
    search_persons,
)
from healthycity.exchange.identity.nhsnumber import NHS_NUMBER_SYSTEM, validated

__all__ = [
    "NHS_NUMBER_SYSTEM",
    "Demographics",
    "Scorer",
    "are_twins",
    "demographics_of",
    "index_patient",
    "person_by_nhs_number",
    "search_persons",
    "validated",
]
