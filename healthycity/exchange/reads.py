"""Reads of single node resources at the exchange: ``GET /{Type}/{id}`` and vread.

References in what the exchange returns name node resources as ``Condition/{id}``, at
the exchange, so an independent client can follow them. The exchange keeps no copy of
node records, so a read first has to find out whose record the id names:

1. *Locate* (outside the gate, nothing shown): every enabled node is asked for
   ``{Type}?_id={id}`` (``_id`` is a search parameter every FHIR server supports); the
   patient each answer is about gives, through the identity index, the exchange person.
   What the nodes answer here is only used to find the person and is then dropped.
2. *Read* through the gate (:meth:`gate.Gate._federated`), exactly as a search of that
   type for that person: consent, sensitivity, relationships, the role policy and the
   audit all apply, and when a consent withholds anything the whole record is asked for
   as context. Only the nodes the locate found it at are asked.

A refusal is answered 404, as for a record that does not exist, and audited as the
refusal it was: telling a requester "forbidden" about a guessed id would confirm that
the record exists, and whose it is. An id that names records of more than one person
(two nodes reusing an id) is not served (404; audited as ambiguous).

Versions: the current version of a record is always readable by ``_history/{vid}``
(the exchange's ``versionId`` is the node's, or one derived from the content). Older
versions come from the node's own history (``{Type}/{id}/_history/{vid}``) where the
node keeps one; where it does not, the exchange answers 404 for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import select

from healthycity.core.db import read_transaction
from healthycity.exchange.access.grounds import Grounds
from healthycity.exchange.bundles import present
from healthycity.exchange.federation import nodes
from healthycity.exchange.federation.fanout import NodeRequest, NodeTarget
from healthycity.exchange.gate import Gate, Reply, RequestInfo, operation_outcome
from healthycity.exchange.models import Node, PersonLink

#: Elements that name the patient a record is about (R4 compartment definitions).
PATIENT_ELEMENTS = ("subject", "patient")


def locals_by_origin(grounds: Grounds) -> dict[str, set[str]]:
    """The person's node-local Patient ids, by node base URL."""
    found: dict[str, set[str]] = {}
    for node, local in grounds.links:
        found.setdefault(node.base_url, set()).add(local)
    return found


def whole_record(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
    """Ask every node holding the person for their whole record there."""
    return [
        NodeRequest(node, f"Patient/{local}/$everything", {}, patient=local)
        for node, local in links
    ]


def patient_of(resource: dict[str, Any]) -> str | None:
    """The node-local Patient id a record is about, from ``subject`` or ``patient``."""
    for element in PATIENT_ELEMENTS:
        value = resource.get(element)
        reference = value.get("reference") if isinstance(value, dict) else None
        if isinstance(reference, str):
            parts = reference.rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2] == "Patient":
                return parts[-1]
    return None


def validators(resource: dict[str, Any]) -> dict[str, str]:
    """``ETag`` (weak: the exchange may reshape what the node holds) and
    ``Last-Modified`` from the resource's ``meta``."""
    meta = resource.get("meta") or {}
    headers: dict[str, str] = {}
    if meta.get("versionId"):
        headers["ETag"] = f'W/"{meta["versionId"]}"'
    stamp = meta.get("lastUpdated")
    if isinstance(stamp, str):
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            headers["Last-Modified"] = format_datetime(moment, usegmt=True)
    return headers


class NodeReads(Gate):
    """``GET /{Type}/{id}`` and ``GET /{Type}/{id}/_history/{vid}`` for node records."""

    def _targets(self) -> list[NodeTarget]:
        with read_transaction(self.engine) as session:
            return [
                nodes.target_of(node, self.settings.node_timeout_seconds)
                for node in nodes.all_nodes(session)
                if node.enabled
            ]

    def _people_of(self, found: Sequence[tuple[str, str]]) -> dict[str, set[str]]:
        """Exchange person id -> node base URLs, for (node name, local patient) pairs."""
        people: dict[str, set[str]] = {}
        with read_transaction(self.engine) as session:
            for name, local in found:
                row = session.execute(
                    select(PersonLink.person_id, Node.base_url)
                    .join(Node, Node.id == PersonLink.node_id)
                    .where(Node.name == name, PersonLink.local_id == local)
                ).first()
                if row is not None:
                    people.setdefault(str(row[0]), set()).add(str(row[1]))
        return people

    async def _locate(self, resource_type: str, resource_id: str) -> dict[str, set[str]]:
        targets = await to_thread.run_sync(self._targets)
        results = await self.federator.gather(
            [NodeRequest(t, resource_type, {"_id": resource_id}) for t in targets]
        )
        found = []
        for result in results:
            for resource in result.resources:
                if (
                    resource.get("resourceType") == resource_type
                    and str(resource.get("id")) == resource_id
                ):
                    local = patient_of(resource)
                    if local is not None:
                        found.append((result.node.name, local))
        return await to_thread.run_sync(self._people_of, found)

    async def read_resource(
        self, info: RequestInfo, resource_type: str, resource_id: str, version: str | None = None
    ) -> Reply:
        """One node record by its id (and version), through the gate."""
        interaction = "read" if version is None else "vread"
        action = f"read {resource_type}"
        people = await self._locate(resource_type, resource_id)
        if len(people) != 1:
            reason = "no such record" if not people else "the id names records of several people"
            return await self.refuse(
                info, interaction=interaction, action=action, status=404, reason=reason
            )
        [(person_id, origins)] = people.items()
        now = self.clock()

        def plan(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
            asked = []
            for node, local in links:
                if node.base_url not in origins:
                    continue
                asked.append(NodeRequest(node, f"{resource_type}/{resource_id}", {}, local))
                if version is not None:
                    path = f"{resource_type}/{resource_id}/_history/{version}"
                    asked.append(NodeRequest(node, path, {}, local))
            return asked

        def context(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
            return plan(links) + whole_record(links)

        def finish(
            shown: list[tuple[dict[str, Any], str]], issues: list[dict[str, Any]], grounds: Grounds
        ) -> Reply:
            mine = [
                (r, o)
                for r, o in shown
                if r.get("resourceType") == resource_type
                and str(r.get("id")) == resource_id
                and o in origins
            ]
            presented = present(mine, person_id, locals_by_origin(grounds), now)
            if version is not None:
                presented = [(r, o) for r, o in presented if r["meta"]["versionId"] == version]
            if not presented:
                return Reply(404, operation_outcome("not-found", "not found"))
            newest = max(presented, key=lambda e: str(e[0]["meta"]["lastUpdated"]))[0]
            return Reply(200, newest, validators(newest))

        reply = await self._federated(
            info,
            person_id=person_id,
            interaction=interaction,
            action=action,
            requested_types=[resource_type],
            plan=plan,
            finish=finish,
            context_plan=context,
        )
        if reply.status in (403, 404):  # audited as what it was; told as "not found"
            return Reply(404, operation_outcome("not-found", "not found"))
        return reply
