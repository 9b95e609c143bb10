"""Geography's public face: the codes every module agrees on, and the city of the pack.

Other modules ask here rather than writing "E92000001" or "E12000007" themselves: the
country's code is fixed by ONS, but the city is whatever region the loaded pack names
(London by default), so a second city's pack works without touching code.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.geography.models import REGION, Area

ENGLAND = "E92000001"
# The default pack's region, for callers with no database to ask (file imports, the CLI's
# defaults); anything that has a session asks `city_code` instead.
DEFAULT_CITY = "E12000007"


def city_code(session: Session) -> str:
    """The code of the region the loaded pack describes (London: E12000007)."""
    code = session.scalar(
        select(Area.code).where(Area.area_type == REGION, Area.pack_id.is_not(None)).limit(1)
    )
    return code or DEFAULT_CITY
