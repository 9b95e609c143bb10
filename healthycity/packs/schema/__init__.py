"""The city-pack schema: one pydantic model per pack file, and the whole ``Pack``.

A city pack is data another city can write, so the schema is the contract. Every model
forbids unknown keys (a misspelt key is an error, not a silently ignored value) and is
frozen (a loaded pack is a value, safe to share between threads and cache).

One module per pack file (``pack_info`` for ``pack.yaml``, ``geography``,
``local_authorities``, ``organisations``, ``aspirations``, ``vision``, ``programmes``,
``devolution``, ``assurance``, ``indicators``, and the optional ``global_cities``), the
field types and base models they share (``common``), and the whole pack with its
checks across files (``pack``).

Checks come in three layers, so that a pack author gets every problem at once and each
problem names the exact key:

1. field types and constraints (pydantic), e.g. an ONS code pattern, a non-negative
   budget, money written as a string;
2. checks within one file (``FileModel.issues``), e.g. unique slugs, a target's value
   consistent with its status;
3. checks across files (``cross_file_issues``), e.g. a CCG's areas are local authorities
   the pack defines, a programme supports aspirations that exist.

Layers 2 and 3 return issues rather than raising, so the reader can collect all of them
with precise locations. The model validators still run them and raise when a model is
built directly in code, unless the validation context carries ``{"collect": True}``
(which is how :mod:`healthycity.packs.reader` asks to collect instead).

This package exports the models; helpers used only by the reader (issue types,
``cross_file_issues``, the local-authority table's checks) are imported from their modules.
"""

from healthycity.packs.schema.aspirations import Ambition, Aspiration, Aspirations, SharedObjective
from healthycity.packs.schema.assurance import Assurance, BedTest, ServiceTest
from healthycity.packs.schema.common import Person, PersonRef
from healthycity.packs.schema.devolution import (
    CriticalTask,
    Devolution,
    DevolutionArea,
    FundCategory,
    Mou,
    Opportunity,
    Pilot,
    TransformationFund,
)
from healthycity.packs.schema.geography import Geography, NamedArea, PlanningGroup, SubRegion
from healthycity.packs.schema.global_cities import CityFigure
from healthycity.packs.schema.indicators import DataItem, DemoHint, Indicator, Indicators, Target
from healthycity.packs.schema.local_authorities import LocalAuthority
from healthycity.packs.schema.organisations import Forum, Organisation, Organisations, Partnership
from healthycity.packs.schema.pack import PACK_FILES, Pack
from healthycity.packs.schema.pack_info import PackInfo, Source
from healthycity.packs.schema.programmes import (
    FocusArea,
    Lead,
    LeadSet,
    Portfolio,
    PortfolioLine,
    Programme,
    Theme,
)
from healthycity.packs.schema.vision import (
    Commitment,
    LifeStage,
    Principle,
    Priority,
    SlugText,
    Vision,
)

__all__ = [
    "PACK_FILES",
    "Ambition",
    "Aspiration",
    "Aspirations",
    "Assurance",
    "BedTest",
    "CityFigure",
    "Commitment",
    "CriticalTask",
    "DataItem",
    "DemoHint",
    "Devolution",
    "DevolutionArea",
    "FocusArea",
    "Forum",
    "FundCategory",
    "Geography",
    "Indicator",
    "Indicators",
    "Lead",
    "LeadSet",
    "LifeStage",
    "LocalAuthority",
    "Mou",
    "NamedArea",
    "Opportunity",
    "Organisation",
    "Organisations",
    "Pack",
    "PackInfo",
    "Partnership",
    "Person",
    "PersonRef",
    "Pilot",
    "PlanningGroup",
    "Portfolio",
    "PortfolioLine",
    "Principle",
    "Priority",
    "Programme",
    "ServiceTest",
    "SharedObjective",
    "SlugText",
    "Source",
    "SubRegion",
    "Target",
    "Theme",
    "TransformationFund",
    "Vision",
]
