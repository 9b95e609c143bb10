"""docs/workspace.md names every record type, role, setting and import kind the code has."""

from __future__ import annotations

from pathlib import Path

from healthycity.core import auth
from healthycity.core.auth_models import ROLES
from healthycity.portfolio import api as portfolio_api
from healthycity.portfolio.importing import KINDS
from healthycity.workspace.accounts import ACCOUNT

DOC = (Path(__file__).resolve().parents[2] / "docs" / "workspace.md").read_text()


def test_every_record_type_role_setting_and_import_is_documented() -> None:
    from healthycity.assurance.api import KINDS as ASSURANCE_KINDS
    from healthycity.engagement.workspace_pages import KIND as CONSULTATION
    from healthycity.estates.disposal_pages import KIND as DISPOSAL
    from healthycity.estates.hand_site_pages import KIND as ESTATE_SITE

    kinds = [*portfolio_api.KINDS, *ASSURANCE_KINDS, ACCOUNT, CONSULTATION, DISPOSAL, ESTATE_SITE]
    missing = [
        f"record type {k.name}" for k in kinds if f"| `{k.name}` | `{k.plural}` |" not in DOC
    ]
    missing += [f"role {r}" for r in ROLES if f"| `{r}` |" not in DOC]
    missing += [
        f"setting {name}"
        for name in auth.AuthSettings.model_fields
        if f"`HEALTHYCITY_{name.upper()}`" not in DOC
    ]
    missing += [f"import {k}" for k in KINDS if f"| `{k}` |" not in DOC]
    # Record types served by an API of their own rather than the generic record forms.
    own_api = {auth.POLL}
    missing += [f"record type {name}" for name in own_api if f"`{name}` record type" not in DOC]
    assert {k.name for k in kinds} | own_api == set(auth.RECORD_TYPES)
    assert not missing, f"docs/workspace.md does not mention: {', '.join(missing)}"
