"""The home page: the goal, the aspirations and the vision priorities by life stage,
each with how its indicators compare and how its targets are doing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from healthycity.core.web.twins import Table
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.cache import PageCache, cached_page
from healthycity.outcomes.dashboard.common import (
    StatusSummary,
    cached_geography,
    cached_summaries,
    linked_ids,
    summarise,
)
from healthycity.outcomes.dashboard.headlines import Headline, headline_for
from healthycity.outcomes.dashboard.lists import pack_indicator_ids


@dataclass
class Card:
    href: str
    number: int
    title: str
    status: StatusSummary
    headline: Headline | None = None


@dataclass
class StageGroup:
    name: str
    summary: str | None
    cards: list[Card]


@dataclass
class HomeData:
    pack_name: str | None
    goal: str | None
    city_name: str
    country_name: str
    aspirations: list[Card]
    stages: list[StageGroup]
    last_updated: datetime | None
    illustrative: bool
    indicators: int
    areas: int
    table: Table
    # "N of M indicators show published figures" (``queries.DataStatus.real_text``).
    real_text: str = ""


def _goal(session: Session) -> tuple[str | None, str | None]:
    """The loaded pack's name and goal (the goal is read from a built-in pack's file)."""
    pack = q.loaded_pack(session)
    if pack is None:
        return None, None
    goal = None
    try:
        import yaml

        from healthycity.packs.reader import PACKS_DIR

        path = PACKS_DIR / pack.pack_id / "pack.yaml"
        if path.is_file():
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            goal = document.get("goal") if isinstance(document, dict) else None
    except (OSError, ValueError, ImportError):  # the goal is a nicety, never an error
        goal = None
    return pack.name, str(goal) if goal else None


@cached_page("home")
def home(session: Session, cache: PageCache, version: str) -> HomeData:
    geo = cached_geography(session, cache, version)
    summaries = cached_summaries(session, cache, version)
    links = linked_ids(session)
    name, goal = _goal(session)
    pack_ids = pack_indicator_ids(session, cache, version)
    cards = []
    for aspiration in q.aspirations(session):
        link = (m.LINK_ASPIRATION, aspiration.slug)
        cards.append(
            Card(
                f"/aspirations/{aspiration.slug}",
                aspiration.number,
                aspiration.title,
                summarise(links.get(link, []), summaries, link),
                headline_for(session, geo, links.get(link, []), summaries),
            )
        )
    commitments_by_priority: dict[str | None, list[m.Commitment]] = defaultdict(list)
    for commitment in q.commitments(session):
        commitments_by_priority[commitment.priority_slug].append(commitment)
    stages: list[StageGroup] = []
    stage_rows = q.life_stages(session)
    priorities = q.vision_priorities(session)
    staged = {stage.slug for stage in stage_rows}
    for stage in [*stage_rows, None]:
        group = []
        for priority in priorities:
            if stage is not None and priority.life_stage_slug != stage.slug:
                continue
            if stage is None and priority.life_stage_slug in staged:
                continue
            commitments = commitments_by_priority.get(priority.slug, [])
            ids: list[str] = []
            for commitment in commitments:
                link = (m.LINK_COMMITMENT, commitment.slug)
                ids.extend(links.get(link, []))
            status = summarise(ids, summaries, None)
            # Targets count once per commitment link, not once per indicator.
            status.achieved = status.on_track = status.off_track = 0
            status.not_set = status.not_enough_data = 0
            for commitment in commitments:
                link = (m.LINK_COMMITMENT, commitment.slug)
                for indicator_id in links.get(link, []):
                    summary = summaries.get(indicator_id)
                    for target in summary.targets if summary else []:
                        if (target.link_kind, target.link_slug) == link:
                            status.add_target(str(target.status))
            href = f"/commitments/{commitments[0].slug}" if commitments else "/"
            group.append(Card(href, priority.number, priority.name, status))
        if group:
            stages.append(
                StageGroup(
                    stage.name if stage else "Other priorities",
                    stage.summary if stage else None,
                    group,
                )
            )
    data = q.data_status(session)
    rows: list[list[Any]] = []
    for card in cards:
        rows.append(_card_row("aspiration", card))
    for stage_group in stages:
        for card in stage_group.cards:
            rows.append(_card_row(f"vision priority ({stage_group.name})", card))
    table = Table(
        columns=[
            "kind",
            "number",
            "title",
            "link",
            "indicators",
            "with_data",
            "better",
            "similar",
            "worse",
            "not_compared",
            "achieved",
            "on_track",
            "off_track",
            "not_set",
            "not_enough_data",
            "judged_as_published",
        ],
        rows=rows,
    )
    return HomeData(
        pack_name=name,
        goal=goal,
        city_name=geo.city_name,
        country_name=geo.country_name,
        aspirations=cards,
        stages=stages,
        last_updated=data.last_updated,
        illustrative=data.illustrative,
        indicators=len(pack_ids),
        areas=len(geo.boroughs),
        table=table,
        real_text=data.real_text if data.indicators else "",
    )


def _card_row(kind: str, card: Card) -> list[Any]:
    s = card.status
    return [
        kind,
        card.number,
        card.title,
        card.href,
        s.indicators,
        s.with_data,
        s.better,
        s.similar,
        s.worse,
        s.other,
        s.achieved,
        s.on_track,
        s.off_track,
        s.not_set,
        s.not_enough_data,
        s.as_published,
    ]
