"""The node registry: the local exchanges the pan-London exchange federates over.

A node is a FHIR R4 server with a name, a base URL, the sub-region it serves, and the
name of the environment variable that holds its credential (the credential itself is
never stored in the database). Health is checked by asking each node for its
CapabilityStatement; the result is kept on the row so operators can see which nodes are
down without waiting for a clinician's query to find out: the app checks them every
``node_health_interval_seconds`` (and ``healthycity exchange nodes check`` on demand).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.exchange.federation.fanout import NodeTarget
from healthycity.exchange.models import Node

log = logging.getLogger("healthycity.exchange.nodes")


def register_node(
    session: Session,
    *,
    name: str,
    base_url: str,
    sub_region: str = "",
    credential_env: str | None = None,
    timeout_seconds: float | None = None,
) -> Node:
    """Add a node, or update the one with this name."""
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"not an http(s) base URL: {base_url!r}")
    node = session.execute(select(Node).where(Node.name == name)).scalar_one_or_none()
    if node is None:
        node = Node(name=name, status="unknown", enabled=True)
        session.add(node)
    node.base_url = base_url.rstrip("/")
    node.sub_region = sub_region
    node.credential_env = credential_env
    node.timeout_seconds = timeout_seconds
    session.flush()
    return node


def all_nodes(session: Session) -> Sequence[Node]:
    return session.execute(select(Node).order_by(Node.name)).scalars().all()


def target(name: str, base_url: str, credential_env: str | None, timeout: float) -> NodeTarget:
    """The fan-out's view of a node, with its credential read from the environment."""
    headers: dict[str, str] = {}
    if credential_env:
        secret = os.environ.get(credential_env)
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
    return NodeTarget(name=name, base_url=base_url, timeout=timeout, headers=headers)


def target_of(node: Node, default_timeout: float) -> NodeTarget:
    return target(
        node.name, node.base_url, node.credential_env, node.timeout_seconds or default_timeout
    )


@dataclass(frozen=True, slots=True)
class Health:
    name: str
    status: str
    error: str | None


async def check(client: httpx.AsyncClient, target: NodeTarget) -> Health:
    """Ask one node for its CapabilityStatement."""
    try:
        async with asyncio.timeout(target.timeout):
            response = await client.get(
                f"{target.base_url}/metadata",
                headers={"Accept": "application/fhir+json", **target.headers},
            )
        if response.status_code != 200:
            return Health(target.name, "down", f"HTTP {response.status_code}")
        if response.json().get("resourceType") != "CapabilityStatement":
            return Health(target.name, "down", "not a CapabilityStatement")
        return Health(target.name, "up", None)
    except (TimeoutError, httpx.TimeoutException):
        return Health(target.name, "down", "timed out")
    except (httpx.HTTPError, ValueError) as error:
        return Health(target.name, "down", type(error).__name__)


def record_health(session: Session, results: Sequence[Health], now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    by_name = {h.name: h for h in results}
    for node in all_nodes(session):
        health = by_name.get(node.name)
        if health is not None:
            node.status, node.last_error, node.last_checked_at = health.status, health.error, now


async def check_all(engine: Engine, default_timeout: float) -> list[Health]:
    """Check every registered node once and record the results."""
    from anyio import to_thread

    from healthycity.core.db import transaction

    def targets() -> list[NodeTarget]:
        with transaction(engine) as session:
            return [target_of(n, default_timeout) for n in all_nodes(session)]

    def record(results: Sequence[Health]) -> None:
        with transaction(engine) as session:
            record_health(session, results)

    found = await to_thread.run_sync(targets)
    async with httpx.AsyncClient(trust_env=False) as client:
        results = list(await asyncio.gather(*(check(client, t) for t in found)))
    await to_thread.run_sync(lambda: record(results))
    return results


async def watch(engine: Engine, default_timeout: float, interval: float) -> None:
    """Check the nodes every ``interval`` seconds until cancelled; a failed round is
    logged and the next one still happens."""
    while True:
        try:
            await check_all(engine, default_timeout)
        except Exception:  # keep watching whatever one round hit
            log.exception("node health check failed")
        await asyncio.sleep(interval)
