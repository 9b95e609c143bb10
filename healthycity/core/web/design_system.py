"""The NHS design system pair this product is built on.

nhsuk-frontend (CSS/JS from npm) and nhsuk-frontend-jinja (templates from PyPI) must
move together: the Jinja port's compatibility table names the frontend release its
macros render markup for. A test checks the installed pair against this table.
"""

from __future__ import annotations

NHSUK_FRONTEND_JINJA = "0.10.2"
NHSUK_FRONTEND = "10.6.1"
COMPATIBLE: dict[str, str] = {NHSUK_FRONTEND_JINJA: NHSUK_FRONTEND}
