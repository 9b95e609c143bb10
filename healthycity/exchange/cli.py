"""``healthycity exchange ...``: run, inspect and demonstrate the exchange.

The top-level CLI mounts :data:`app`. Every command imports what it needs inside its
own body, so that ``healthycity --help`` (which imports this module) stays fast:
FastAPI, SQLAlchemy, fhir.resources and Splink are not loaded until a command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    import healthycity.core.tamper as tamper
    from healthycity.exchange.access import relationships
    from healthycity.exchange.settings import ExchangeSettings

app = typer.Typer(
    name="exchange",
    help="The pan-London information exchange (FHIR R4 federated read, consent, audit).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
audit_app = typer.Typer(help="The keyed, checkpointed audit chain.", no_args_is_help=True)
nodes_app = typer.Typer(help="The registry of local exchanges (nodes).", no_args_is_help=True)
review_app = typer.Typer(
    help="Possible identity matches awaiting a decision.", no_args_is_help=True
)
relationships_app = typer.Typer(
    help="Legitimate relationships (GP, care team, referral, encounter) read from the nodes.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
app.add_typer(nodes_app, name="nodes")
app.add_typer(review_app, name="review")
app.add_typer(relationships_app, name="relationships")

_DB_KEY = "healthycity.exchange.database"


@app.callback()
def _exchange(
    ctx: typer.Context,
    database: str | None = typer.Option(
        None,
        "--exchange-database",
        help="The exchange's own database URL (default: HEALTHYCITY_EXCHANGE_DATABASE_URL, "
        "else sqlite:///./var/exchange.db). Never the partnership database.",
        metavar="URL",
    ),
) -> None:
    ctx.meta[_DB_KEY] = database


def _settings(ctx: typer.Context) -> ExchangeSettings:
    from pydantic import ValidationError

    from healthycity.exchange.settings import ExchangeSettings

    database = ctx.meta.get(_DB_KEY)
    try:
        return ExchangeSettings(database_url=database) if database else ExchangeSettings()
    except ValidationError as error:
        for problem in error.errors(include_url=False, include_input=False):
            typer.echo(f"error: {problem['msg']}", err=True)
        raise typer.Exit(2) from error


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Create or upgrade the exchange's schema."""
    from healthycity.exchange.db import upgrade

    settings = _settings(ctx)
    upgrade(settings.database_url)
    typer.echo(f"exchange schema is up to date ({settings.database_url})")


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8081, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="Worker processes (the fan-out is CPU-bound; one per core)."
    ),
) -> None:
    """Serve the exchange's FHIR API (migrating its schema first)."""
    import os

    import uvicorn

    from healthycity.exchange.api import create_app
    from healthycity.exchange.db import upgrade

    settings = _settings(ctx)
    upgrade(settings.database_url)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    # Each worker builds its own app from the environment, so pass the database on.
    os.environ["HEALTHYCITY_EXCHANGE_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "healthycity.exchange.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def _audit_log(ctx: typer.Context) -> tamper.TamperLog:
    from healthycity.core.tamper import AuditKeyError
    from healthycity.exchange.audit import chain

    try:
        log = chain.log_for(_settings(ctx))
    except AuditKeyError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    chain.configure(log)
    return log


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check the audit chain and every checkpoint; exit 1 if any row was edited or
    deleted, or the tail was cut off."""
    from healthycity.core.db import read_transaction
    from healthycity.exchange.audit import chain
    from healthycity.exchange.db import make_engine

    log = _audit_log(ctx)
    engine = make_engine(_settings(ctx).database_url)
    try:
        with read_transaction(engine) as session:
            report = chain.verify(session, log=log)
    finally:
        engine.dispose()
    for line, to_stderr in report.lines("audit chain"):
        typer.echo(line, err=to_stderr)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context) -> None:
    """Sign the chain's current row count and head and append them to the checkpoint
    file (the running exchange does this every `audit_checkpoint_every` rows)."""
    from healthycity.core.db import read_transaction
    from healthycity.exchange.audit import chain
    from healthycity.exchange.db import make_engine

    log = _audit_log(ctx)
    engine = make_engine(_settings(ctx).database_url)
    try:
        with read_transaction(engine) as session:
            written = chain.checkpoint(session, log=log)
    finally:
        engine.dispose()
    typer.echo(written.describe(log.sink.path))


@nodes_app.command("add")
def nodes_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A short unique name."),
    base_url: str = typer.Argument(..., help="The node's FHIR base URL."),
    sub_region: str = typer.Option("", help="North, north-east, south-east, south-west..."),
    credential_env: str | None = typer.Option(
        None, help="Name of the environment variable holding the node's bearer credential."
    ),
    timeout: float | None = typer.Option(None, help="Per-node timeout in seconds."),
) -> None:
    """Register a node (or update the one with this name)."""
    from healthycity.core.db import transaction
    from healthycity.exchange.db import make_engine, upgrade
    from healthycity.exchange.federation import nodes

    settings = _settings(ctx)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            nodes.register_node(
                session,
                name=name,
                base_url=base_url,
                sub_region=sub_region,
                credential_env=credential_env,
                timeout_seconds=timeout,
            )
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    finally:
        engine.dispose()
    typer.echo(f"registered {name} at {base_url}")


@nodes_app.command("list")
def nodes_list(ctx: typer.Context) -> None:
    """The registered nodes and their last known health."""
    from healthycity.core.db import transaction
    from healthycity.exchange.db import make_engine
    from healthycity.exchange.federation import nodes

    engine = make_engine(_settings(ctx).database_url)
    try:
        with transaction(engine) as session:
            for node in nodes.all_nodes(session):
                checked = node.last_checked_at.isoformat() if node.last_checked_at else "never"
                typer.echo(
                    f"{node.name}\t{node.base_url}\t{node.sub_region}\t{node.status}\t{checked}"
                )
    finally:
        engine.dispose()


@nodes_app.command("check")
def nodes_check(ctx: typer.Context) -> None:
    """Ask every node for its CapabilityStatement and record who is up."""
    import asyncio

    import httpx

    from healthycity.core.db import transaction
    from healthycity.exchange.db import make_engine
    from healthycity.exchange.federation import nodes

    settings = _settings(ctx)
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            targets = [
                nodes.target_of(n, settings.node_timeout_seconds) for n in nodes.all_nodes(session)
            ]

        async def run() -> list[nodes.Health]:
            async with httpx.AsyncClient(trust_env=False) as client:
                return list(await asyncio.gather(*(nodes.check(client, t) for t in targets)))

        results = asyncio.run(run())
        with transaction(engine) as session:
            nodes.record_health(session, results)
    finally:
        engine.dispose()
    for health in results:
        typer.echo(f"{health.name}\t{health.status}\t{health.error or ''}")


@review_app.command("list")
def review_list(ctx: typer.Context) -> None:
    """Open review items: a node's record and the person it may be."""
    from sqlalchemy import select

    from healthycity.core.db import transaction
    from healthycity.exchange.db import make_engine
    from healthycity.exchange.models import Node, ReviewItem

    engine = make_engine(_settings(ctx).database_url)
    try:
        with transaction(engine) as session:
            rows = session.execute(
                select(ReviewItem, Node.name)
                .join(Node, Node.id == ReviewItem.node_id)
                .where(ReviewItem.status == "open")
                .order_by(ReviewItem.probability.desc())
            ).all()
            for item, node in rows:
                typer.echo(
                    f"{item.id}\t{node}/Patient/{item.local_id}\t{item.candidate_person_id}"
                    f"\t{item.probability:.3f}\t{item.reason}"
                )
    finally:
        engine.dispose()


@review_app.command("decide")
def review_decide(
    ctx: typer.Context,
    item: int = typer.Argument(..., help="The review item's id."),
    link: bool = typer.Option(
        ..., "--link/--keep-apart", help="Link the record to the candidate, or keep apart."
    ),
    reviewer: str = typer.Option(..., help="Who decided (recorded in the audit trail)."),
) -> None:
    """Close a review item (audited)."""
    from healthycity.core.db import transaction
    from healthycity.exchange.db import make_engine
    from healthycity.exchange.identity import index as identity

    engine = make_engine(_settings(ctx).database_url)
    try:
        with transaction(engine) as session:
            identity.decide_review(session, item, link=link, actor=reviewer)
    except LookupError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    finally:
        engine.dispose()
    typer.echo(f"review item {item}: {'linked' if link else 'kept apart'}")


@relationships_app.command("refresh")
def relationships_refresh(
    ctx: typer.Context,
    persons: list[str] | None = typer.Option(
        None,
        "--person",
        help="An exchange person id to refresh (repeat for more). Default: every person.",
        metavar="ID",
    ),
    concurrency: int = typer.Option(
        8, min=1, max=256, help="Persons refreshed at once (each asks all its nodes at once)."
    ),
) -> None:
    """Re-derive relationships from what the nodes hold: registered GP practice
    (Patient.generalPractitioner), active care teams and episodes of care, open
    referrals (ServiceRequest) and current or recent encounters.

    For each person, every enabled node holding them is asked; the rows derived from a
    node are replaced by what it says now. Rows entered by hand are never changed, and
    a node that fails keeps its rows as they were. Exits 1 if any node failed.
    """
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from sqlalchemy import select

    from healthycity.core.db import read_transaction
    from healthycity.exchange.access import relationships
    from healthycity.exchange.db import make_engine, upgrade
    from healthycity.exchange.models import Person

    settings = _settings(ctx)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    errors = Console(stderr=True)
    try:
        with read_transaction(engine) as session:
            if persons:
                known = set(
                    session.execute(select(Person.id).where(Person.id.in_(persons))).scalars()
                )
                unknown = [p for p in persons if p not in known]
                if unknown:
                    typer.echo(f"error: no such person: {', '.join(unknown)}", err=True)
                    raise typer.Exit(2)
                wanted = list(dict.fromkeys(persons))
            else:
                wanted = relationships.all_person_ids(session)

        with Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=errors,
            transient=True,
            disable=len(wanted) < 2,
        ) as bar:
            task = bar.add_task("refreshing relationships", total=len(wanted))

            def advanced(outcome: relationships.PersonOutcome) -> None:
                for failure in outcome.failures:
                    bar.console.print(
                        f"node {failure.node} failed for person {failure.person_id}: "
                        f"{failure.error} (its relationships were left as they were)",
                        markup=False,
                        highlight=False,
                    )
                bar.advance(task)

            async def run() -> relationships.RefreshReport:
                from healthycity.exchange.federation.fanout import federator_for

                federator = federator_for(settings)
                try:
                    return await relationships.refresh(
                        engine,
                        federator,
                        settings,
                        person_ids=wanted,
                        concurrency=concurrency,
                        progress=advanced,
                    )
                finally:
                    await federator.aclose()

            report = asyncio.run(run())
    finally:
        engine.dispose()
    counts = report.counts
    failed_nodes = sorted({f.node for f in report.failures})
    typer.echo(f"persons refreshed: {report.persons}")
    typer.echo(f"relationships: {counts.added} added, {counts.removed} removed, {counts.kept} kept")
    typer.echo(
        f"node failures: {len(report.failures)}"
        + (f" (nodes: {', '.join(failed_nodes)})" if failed_nodes else "")
    )
    if report.unusable:
        typer.echo(
            f"parties without an ODS code or practitioner subject identifier (not used): "
            f"{report.unusable}"
        )
    if report.missing:
        typer.echo(f"persons no longer in the index: {len(report.missing)}")
    if report.failures:
        raise typer.Exit(1)


@app.command()
def demo(
    node_count: int = typer.Option(3, "--nodes", min=1, max=50, help="Local exchanges to start."),
    data: Path | None = typer.Option(
        None,
        help="A folder of Synthea output (bulk NDJSON and/or Bundles). Without it, a "
        "small made-up population is used.",
        exists=True,
    ),
    port: int = typer.Option(8081, help="Port for the exchange."),
    latency_ms: float = typer.Option(0.0, help="Latency each node adds to every response."),
    seed: int = typer.Option(0, help="Seed for the population's perturbations."),
    seconds: float | None = typer.Option(
        None, help="Stop after this many seconds (default: run until interrupted)."
    ),
    database: Path | None = typer.Option(
        None, help="SQLite file for the demo's exchange database (default: a temporary one)."
    ),
) -> None:
    """Start N local exchange nodes on loopback with Synthea data spread across them
    (perturbed identities), index them, print demo tokens, and serve the exchange."""
    import asyncio
    import tempfile
    import time
    from collections import Counter

    from sqlalchemy import func, select

    from healthycity.core.db import transaction
    from healthycity.exchange.db import make_engine, upgrade
    from healthycity.exchange.dev import demo as population
    from healthycity.exchange.dev.harness import Harness
    from healthycity.exchange.dev.testserver import Faults
    from healthycity.exchange.identity.matching import FellegiSunterModel
    from healthycity.exchange.identity.nhsnumber import NHS_NUMBER_SYSTEM
    from healthycity.exchange.models import PersonLink, ReviewItem
    from healthycity.exchange.settings import ExchangeSettings

    workdir = Path(tempfile.mkdtemp(prefix="healthycity-exchange-demo-"))
    db_path = database or workdir / "exchange.db"
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    people = population.load_people(data) if data else population.synthetic_people(60, seed=seed)
    if not people:
        typer.echo(f"error: no Patients found in {data}", err=True)
        raise typer.Exit(2)
    built = population.build_population(people, node_count, seed=seed)
    harness = Harness(
        engine,
        settings=ExchangeSettings(node_timeout_seconds=2.0),
        scorer=FellegiSunterModel.default(),
        exchange_port=port,
    )
    for index, store in enumerate(built.stores):
        harness.add_node(f"node-{index:02d}", store, Faults(latency_ms=latency_ms))
    typer.echo(f"loading {len(people)} people onto {node_count} nodes and indexing them...")
    with harness:
        # The GP relationships come from the nodes' own records (each Patient names its
        # registered practice), as they would in a real deployment.
        derived = asyncio.run(_refresh_relationships(engine, harness.settings))
        typer.echo(
            f"relationships derived from the nodes: {derived.counts.added} "
            f"(node failures: {len(derived.failures)})"
        )
        with transaction(engine) as session:
            methods = Counter(m for (m,) in session.execute(select(PersonLink.method)).all())
            reviews = session.execute(select(func.count()).select_from(ReviewItem)).scalar_one()
        first_number = next(iter(built.numbers.values()))
        first_practice = population.practice_code(built.home[next(iter(built.numbers))])
        issuer = harness.issuer
        tokens = {
            f"GP at {first_practice}": issuer.mint(
                subject="demo-gp", role="R8000", organisation=first_practice, lifetime=86400
            ),
            "A&E clinician at RAL01 (no relationship: must break glass)": issuer.mint(
                subject="demo-ae", role="R8000", organisation="RAL01", lifetime=86400
            ),
            f"receptionist at {first_practice}": issuer.mint(
                subject="demo-reception",
                role="R8009",
                organisation=first_practice,
                lifetime=86400,
            ),
            "privacy officer": issuer.mint(
                subject="demo-privacy", role="R0001", organisation="X26", lifetime=86400
            ),
            "identity steward (review queue: GET /$review-queue)": issuer.mint(
                subject="demo-steward",
                role="R8013",
                organisation="X26",
                scope="user/PersonLink.read user/PersonLink.write",
                lifetime=86400,
            ),
            f"citizen {first_number}": issuer.mint(
                subject="demo-citizen",
                role="citizen",
                scope="patient/*.read patient/Consent.write",
                patient=first_number,
                lifetime=86400,
            ),
        }
        typer.echo("")
        for name, handle in harness.nodes.items():
            typer.echo(f"node {name}: {handle.url}  ({handle.store.count()} resources)")
        typer.echo(f"index links by method: {dict(methods)}; review queue: {reviews}")
        typer.echo(f"exchange: {harness.exchange_url}   database: {db_path}")
        typer.echo("")
        for name, token in tokens.items():
            typer.echo(f"token ({name}):\n  {token}\n")
        gp = next(iter(tokens.values()))
        typer.echo("try:")
        typer.echo(
            f'  curl -s -H "Authorization: Bearer {gp[:16]}..." '
            f"'{harness.exchange_url}/Patient?identifier={NHS_NUMBER_SYSTEM}|{first_number}'"
        )
        typer.echo("  then GET /Patient/{id}/$everything with the id from the search")
        sys.stdout.flush()
        try:
            deadline = None if seconds is None else time.monotonic() + seconds
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            typer.echo("stopping")
    engine.dispose()


async def _refresh_relationships(
    engine: Engine, settings: ExchangeSettings
) -> relationships.RefreshReport:
    from healthycity.exchange.access import relationships
    from healthycity.exchange.federation.fanout import federator_for

    federator = federator_for(settings)
    try:
        return await relationships.refresh(engine, federator, settings)
    finally:
        await federator.aclose()


@app.command("link")
def link_command(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="CSV extracts."),
    mappings: list[str] = typer.Option(
        ...,
        "--map",
        help="field=column, e.g. given_name=first_name (repeat). Fields: record_id, "
        "nhs_number, other_identifier, given_name, family_name, birth_date (YYYY-MM-DD or "
        "YYYYMMDD), sex, postcode, address_line, town, and optionally email and phone.",
    ),
    output: Path = typer.Option(..., help="Where to write file,row,record_id,cluster_id."),
    review: Path | None = typer.Option(None, help="Write possible matches here for review."),
    match_threshold: float = typer.Option(0.95, min=0.0, max=1.0),
    possible_threshold: float = typer.Option(0.5, min=0.0, max=1.0),
    model_output: Path | None = typer.Option(
        None, help="Also save the trained model as JSON for the online scorer."
    ),
) -> None:
    """Link CSV extracts with Splink and write a cluster id for every input record.

    Names are compared allowing one keying error, looser likeness and given and family
    name swapped; dates allowing one keying error, day and month transposed, or a month
    or a year out; email on the whole address or its user part; phone (digits, UK numbers
    in national form) exactly or one keying error apart. Unusable values are reported and
    treated as missing. Twins (same birth date, surname and address, different given
    names) are never linked.
    """
    import orjson

    from healthycity.exchange.identity import linkage

    try:
        mapping = linkage.parse_mapping(mappings)
        records, problems = linkage.read_extracts(files, mapping)
    except (ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    for example in problems.examples:
        typer.echo(f"warning: {example}", err=True)
    for name, count in sorted(problems.counts.items()):
        typer.echo(f"warning: {count} unusable {name} value(s) treated as missing", err=True)
    result = linkage.link(
        records, match_threshold=match_threshold, possible_threshold=possible_threshold
    )
    linkage.write_clusters(output, records, result.clusters)
    if review is not None:
        linkage.write_review(review, records, result.review)
    if model_output is not None and result.model is not None:
        model_output.write_bytes(orjson.dumps(result.model.to_json(), option=orjson.OPT_INDENT_2))
    clusters = len(set(result.clusters))
    typer.echo(
        f"{len(records)} records in {clusters} clusters; {len(result.review)} possible "
        f"match(es) for review; {result.twins_refused} twin pair(s) kept apart -> {output}"
    )


def register(cli: typer.Typer) -> None:
    """Mount these commands as ``healthycity exchange``."""
    cli.add_typer(
        app, name="exchange", help="The pan-London FHIR R4 exchange: its own app and database."
    )
