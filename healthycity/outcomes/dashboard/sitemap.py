"""Every page of the public site, for the static export (``site build``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from healthycity.geography.models import COUNTRY, LOCAL_AUTHORITY, REGION, SUB_REGION
from healthycity.outcomes import queries as q


def site_paths(session: Session) -> list[str]:
    """Every page of the public site, for the static export."""
    paths = ["/", "/indicators", "/areas", "/inequalities", "/search"]
    paths += [f"/aspirations/{a.slug}" for a in q.aspirations(session)]
    paths += [f"/commitments/{c.slug}" for c in q.commitments(session)]
    paths += [f"/indicators/{i}" for i in q.indicator_ids(session)]
    with_data = q.areas_with_data(session)
    for code, area_type in q.area_types(session):
        if area_type in (SUB_REGION, LOCAL_AUTHORITY, REGION, COUNTRY) or code in with_data:
            paths.append(f"/areas/{code}")
    return paths
