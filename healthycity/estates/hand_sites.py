"""Sites added by hand: the parts of a sub-region's estate that ERIC does not cover.

ERIC is filed by NHS trusts for the sites they occupy or own. GP premises, and the
buildings NHS Property Services and Community Health Partnerships hold, are outside it
(the shared data's README says so), yet the sub-regions' estates boards plan with
them. The estates team records them here, one `HandSite` each; the rules hold for the
form, the JSON API and anything else that writes one:

- a name, what kind of site it is, its sub-region and where its figures came from
  (``source``) are required: an entry nobody can trace is not evidence;
- an ODS code, when given, is letters and digits, and must not be a site ERIC already
  returns (that site is in the register already: enter nothing twice);
- a postcode is a UK postcode, stored in its usual form ("SE1 7EH");
- coordinates come as a pair, inside the United Kingdom;
- a floor area is a positive number of m².

Every change is audited (`Audited`), and the row itself says who added it and who last
changed it, and when, so a public page can mark the entry as hand-entered without
reading the trail.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.errors import Invalid, NotFound
from healthycity.core.inputs import Input, OptionalProse, OptionalTitle, Title, blank_to_none
from healthycity.estates.models import (
    HAND_SITE_KINDS,
    TENURES,
    EstatesSite,
    HandSite,
)
from healthycity.estates.register import SUBREGIONS

Kind = Literal["gp_premises", "nhs_property_services", "community_health_partnerships", "other"]
Tenure = Literal["owned", "leased", "pfi", "nhs_property_services"]
# The UK's extent, generously: a point outside it is a typo (a swapped pair, a lost sign).
LATITUDES = (49.8, 60.9)
LONGITUDES = (-8.7, 1.8)
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
_ODS = re.compile(r"^[A-Z0-9]{3,10}$")


def _postcode(value: object) -> object:
    value = blank_to_none(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("enter a postcode, like SE1 7EH")
    match = _POSTCODE.fullmatch(re.sub(r"\s+", " ", value.strip().upper()))
    if match is None:
        raise ValueError("enter a UK postcode, like SE1 7EH")
    return f"{match.group(1)} {match.group(2)}"


def _ods(value: object) -> object:
    value = blank_to_none(value)
    if value is None:
        return None
    if not isinstance(value, str) or not _ODS.fullmatch(value.strip().upper()):
        raise ValueError("an ODS code is 3 to 10 letters and digits, like F84003 or RAL01")
    return value.strip().upper()


def _choice(value: object) -> object:
    return blank_to_none(value)


def _subregion(value: object) -> object:
    value = blank_to_none(value)
    text = value.strip().upper() if isinstance(value, str) else ""
    if text not in SUBREGIONS:
        raise ValueError(f"choose one of the sub-regions: {', '.join(SUBREGIONS)}")
    return text


Postcode = Annotated[str | None, BeforeValidator(_postcode)]
OdsCode = Annotated[str | None, BeforeValidator(_ods)]
Latitude = Annotated[
    Annotated[float, Field(ge=LATITUDES[0], le=LATITUDES[1])] | None, BeforeValidator(blank_to_none)
]
Longitude = Annotated[
    Annotated[float, Field(ge=LONGITUDES[0], le=LONGITUDES[1])] | None,
    BeforeValidator(blank_to_none),
]
FloorArea = Annotated[
    Annotated[Decimal, Field(gt=0, le=Decimal("10000000"), decimal_places=2)] | None,
    BeforeValidator(blank_to_none),
]


class HandSiteIn(Input):
    """A site entered by hand (forms, API)."""

    name: Title
    kind: Kind
    subregion: Annotated[str, BeforeValidator(_subregion)]
    source: Title
    ods_code: OdsCode = None
    holder: OptionalTitle = None
    tenure: Annotated[Tenure | None, BeforeValidator(_choice)] = None
    address: OptionalTitle = None
    postcode: Postcode = None
    latitude: Latitude = None
    longitude: Longitude = None
    gia_m2: FloorArea = None
    notes: OptionalProse = None
    published: bool = False


FIELDS = (
    "name",
    "kind",
    "subregion",
    "source",
    "ods_code",
    "holder",
    "tenure",
    "address",
    "postcode",
    "latitude",
    "longitude",
    "gia_m2",
    "notes",
    "published",
)


def _check(session: Session, data: HandSiteIn) -> None:
    """The rules that need the other fields or the register (`Invalid` on the field)."""
    if (data.latitude is None) != (data.longitude is None):
        missing = "longitude" if data.longitude is None else "latitude"
        raise Invalid({missing: f"give both coordinates or neither ({missing} is missing)"})
    if data.ods_code is None:
        return
    found = session.scalars(
        select(EstatesSite).where(EstatesSite.site_code == data.ods_code).limit(1)
    ).first()
    if found is not None:
        raise Invalid(
            {
                "ods_code": f"ERIC already returns {data.ods_code} ({found.name}, filed by "
                f"{found.org_code}): it is in the register, so it is not added by hand"
            }
        )


def _now() -> datetime:
    return datetime.now(UTC)


def create(session: Session, data: HandSiteIn, who: str) -> HandSite:
    _check(session, data)
    now = _now()
    row = HandSite(created_by=who, updated_by=who, created_at=now, updated_at=now)
    for name in FIELDS:
        setattr(row, name, getattr(data, name))
    session.add(row)
    session.flush()
    return row


def update(session: Session, row: HandSite, data: HandSiteIn, who: str) -> None:
    _check(session, data)
    changed = False
    for name in FIELDS:
        value = getattr(data, name)
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.updated_by, row.updated_at = who, _now()
    session.flush()


def get(session: Session, site_id: int) -> HandSite:
    row = session.get(HandSite, site_id)
    if row is None:
        raise NotFound(f"no site added by hand with number {site_id}")
    return row


def listing(session: Session, *, published_only: bool = False) -> list[HandSite]:
    query = select(HandSite).order_by(HandSite.subregion, HandSite.name, HandSite.id)
    if published_only:
        query = query.where(HandSite.published.is_(True))
    return list(session.scalars(query))


def current(row: HandSite) -> dict[str, Any]:
    """The record as input (what an edit is laid over)."""
    values: dict[str, Any] = {name: getattr(row, name) for name in FIELDS}
    values["published"] = "yes" if row.published else "no"
    return values


def display_name(label: str) -> str:
    """The person's name without their email address (``Name <email>`` → ``Name``): the
    public pages say who entered a site, never how to reach them."""
    return label.split("<", 1)[0].strip() or "the estates team"


def public_json(row: HandSite) -> dict[str, Any]:
    """What the public pages show: marked as hand-entered, with who and when; no notes."""
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "kind_name": HAND_SITE_KINDS.get(row.kind, row.kind),
        "ods_code": row.ods_code,
        "holder": row.holder,
        "tenure": row.tenure,
        "tenure_name": TENURES.get(row.tenure) if row.tenure else None,
        "address": row.address,
        "postcode": row.postcode,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "subregion": row.subregion,
        "subregion_name": SUBREGIONS.get(row.subregion, row.subregion),
        "gia_m2": row.gia_m2,
        "source": row.source,
        "entered_by_hand": True,
        "added_by": display_name(row.created_by),
        "added_at": row.created_at,
        "changed_by": display_name(row.updated_by),
        "changed_at": row.updated_at,
    }


def workspace_json(row: HandSite) -> dict[str, Any]:
    return public_json(row) | {
        "notes": row.notes,
        "published": row.published,
        "added_by": row.created_by,
        "changed_by": row.updated_by,
    }
