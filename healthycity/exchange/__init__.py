"""The pan-London information exchange: a FHIR R4 integration layer over local exchanges.

It is deliberately an island. It has its own ASGI app, its own database and migrations,
and its own settings, because it holds patient-identifiable data and the partnership's
other modules (the public site, reports, dashboards) must never be able to reach it by
accident. Nothing outside this package imports it, and it imports no other domain module.

Importing this package is cheap on purpose: the command line imports it on every start,
so heavy libraries (FastAPI, SQLAlchemy, fhir.resources, Splink) are imported by the
modules that need them, not here.
"""
