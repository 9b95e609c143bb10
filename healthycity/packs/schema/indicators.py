"""``indicators.yaml``: the indicator catalogue, with targets and demo hints."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from healthycity.packs.schema.common import (
    FileModel,
    Issue,
    Model,
    Number,
    PartialDate,
    Period,
    SignedNumber,
    Slug,
    SourceId,
    Text,
    duplicates,
)

ValueType = Literal[
    "proportion", "crude_rate", "dsr", "isr", "mean", "life_expectancy", "count", "gap"
]
Polarity = Literal["high_is_good", "low_is_good", "no_judgement"]
AreaLevel = Literal["country", "region", "sub_region", "local_authority"]
TargetKind = Literal[
    "absolute", "relative_change", "absolute_change", "zero", "direction", "benchmark"
]


class DataItem(Model):
    definition: Text
    source: Text


class Target(Model):
    """A target for an indicator, as the source states it, tied to one aspiration or commitment.

    ``kind``: ``absolute`` (reach a value), ``relative_change`` (change by a percentage of
    the baseline), ``absolute_change`` (change by an amount), ``zero``, ``direction`` (a
    direction with no figure) or ``benchmark`` (a position such as "top quartile").
    ``status: not_set`` records a target whose figure the source left open ("X%"); its
    ``value`` is then null.
    """

    aspiration: Slug | None = None
    ambition: Slug | None = None
    commitment: Slug | None = None
    statement: Text
    kind: TargetKind
    direction: Literal["increase", "decrease"] | None = None
    value: Number | None = None
    unit: Text | None = None
    benchmark: Text | None = None
    baseline_period: Period | None = None
    target_period: Period | None = None
    status: Literal["set", "not_set"]
    source: SourceId

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.aspiration is None) == (self.commitment is None):
            raise ValueError("a target belongs to exactly one of aspiration or commitment")
        if self.ambition is not None and self.aspiration is None:
            raise ValueError("ambition is only meaningful with an aspiration")
        if self.status == "not_set" and self.value is not None:
            raise ValueError("a target that is not set has no value (use null)")
        needs_value = self.kind in ("absolute", "relative_change", "absolute_change")
        if self.status == "set" and needs_value and self.value is None:
            raise ValueError(f"a set {self.kind} target needs a value")
        if self.kind == "zero" and self.value not in (None, Decimal(0)):
            raise ValueError("a zero target has value 0 (or null)")
        if self.kind in ("relative_change", "absolute_change", "direction") and not self.direction:
            raise ValueError(f"a {self.kind} target needs a direction (increase or decrease)")
        if self.kind == "benchmark" and self.benchmark is None:
            raise ValueError("a benchmark target needs the benchmark it aims at")
        return self


class DemoHint(Model):
    """Plausible values for generating labelled illustrative data; never published.

    ``city`` is a typical value for the whole city; ``country_low``/``country_high`` bound
    the spread across the country's local areas.
    """

    city: SignedNumber
    country_low: SignedNumber | None = None
    country_high: SignedNumber | None = None
    decimals: int = Field(default=1, ge=0, le=6)

    @model_validator(mode="after")
    def _range(self) -> Self:
        low, high = self.country_low, self.country_high
        if (low is None) != (high is None):
            raise ValueError("give both country_low and country_high, or neither")
        if low is not None and high is not None and low > high:
            raise ValueError("country_low is greater than country_high")
        return self


IndicatorId = Annotated[
    str,
    StringConstraints(pattern=r"^(\d{1,9}|hc-[a-z0-9]+(?:-[a-z0-9]+)*)$", max_length=32),
]
"""A Fingertips id (digits) or ``hc-`` and a slug; at most 32 characters, to fit the
identifier columns of the outcomes tables and Fingertips-style CSV exports."""


class Indicator(Model):
    """An indicator with the metadata Fingertips users rely on, its links and its targets."""

    id: IndicatorId
    fingertips_id: int | None = Field(ge=1)
    name: Text
    definition: Text
    rationale: Text
    methodology: Text
    unit: Text
    value_type: ValueType
    multiplier: int = Field(ge=1)
    polarity: Polarity
    numerator: DataItem | None = None
    denominator: DataItem | None = None
    standard_population: Text | None = None
    disclosure_control: Text
    caveats: tuple[Text, ...] = ()
    frequency: Text
    last_updated: PartialDate | None = None
    area_levels: tuple[AreaLevel, ...] = Field(min_length=1)
    sexes: tuple[Literal["Persons", "Male", "Female"], ...] = ("Persons",)
    age: Text = "All ages"
    aspirations: tuple[Slug, ...] = ()
    commitments: tuple[Slug, ...] = ()
    targets: tuple[Target, ...] = ()
    demo: DemoHint | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.id.startswith("hc-"):
            if self.fingertips_id is not None:
                raise ValueError(
                    "an hc- indicator has no fingertips_id; use the Fingertips id as id"
                )
        elif self.fingertips_id != int(self.id):
            raise ValueError("a numeric id is a Fingertips id: fingertips_id must equal it")
        if self.value_type == "dsr" and self.standard_population is None:
            raise ValueError("a directly standardised rate needs its standard_population")
        if self.value_type in ("proportion", "crude_rate", "dsr", "isr") and self.numerator is None:
            raise ValueError(f"a {self.value_type} needs a numerator definition")
        for i, target in enumerate(self.targets):
            if target.aspiration is not None and target.aspiration not in self.aspirations:
                raise ValueError(
                    f"targets[{i}] is for aspiration {target.aspiration!r}, not linked"
                )
            if target.commitment is not None and target.commitment not in self.commitments:
                raise ValueError(
                    f"targets[{i}] is for commitment {target.commitment!r}, not linked"
                )
        return self


class Indicators(FileModel):
    """``indicators.yaml``: the indicator catalogue."""

    FILE: ClassVar[str] = "indicators.yaml"

    indicators: tuple[Indicator, ...] = Field(min_length=1)

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(i.id for i in self.indicators), "indicators", "id")
        found += duplicates(
            ((n, str(i.fingertips_id)) for n, i in enumerate(self.indicators) if i.fingertips_id),
            "indicators",
            "fingertips_id",
        )
        return found
