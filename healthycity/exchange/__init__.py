"""The pan-London information exchange: a FHIR R4 integration layer over local exchanges.

It is deliberately an island. It has its own ASGI app, its own database and migrations,
and its own settings, because it holds patient-identifiable data and the partnership's
other modules (the public site, reports, dashboards) must never be able to reach it by
accident. Nothing outside this package imports it, and it imports no other domain module.

Importing this package is cheap on purpose: the command line imports it on every start,
so heavy libraries (FastAPI, SQLAlchemy, fhir.resources, Splink) are imported by the
modules that need them, not here.
"""

from healthycity.core.registry import Module

# Listed for its command line only: the exchange is its own ASGI app with its own
# database, so it declares no tables, pages or pack data of the partnership's.
MODULE = Module(
    name="exchange",
    summary="The FHIR R4 exchange: identity, consent, access, audit and federation over "
    "the local care-record exchanges (its own app and database).",
    cli="healthycity.exchange.cli",
)
