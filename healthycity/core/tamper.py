"""One tamper-evident log mechanism, used by the workspace audit and the exchange's.

A log is a table of rows, each with a chain position ``seq`` (1, 2, 3 … with no gaps),
the previous row's MAC and its own. A row's MAC is HMAC-SHA256, under a key that lives
in the settings and never in the database, over its position, its predecessor's MAC
and its content. So whoever can write to the database but does not hold the key cannot
edit a row, delete one or recompute the chain after dropping the triggers without
:func:`verify_log` noticing.

What the chain alone cannot show is a tail cut off with the head row wound back to the
new last row: every remaining link is still valid. *Checkpoints* close that gap: every
``every`` rows (and whenever an operator runs ``audit checkpoint`` or a successful
``audit verify``) the log's row count and head MAC are signed with the key and appended
to a sink *outside* the database — a file, by default under ``var/audit/``, which a
deployment puts on append-only or remote storage. ``verify`` checks every checkpoint:
a row it names that is missing or different means the log was cut back or rewritten.

Rows written before a log was chained (its *legacy* rows, sealed at the cut-over) are
summarised in each checkpoint by a count and a digest, so they cannot change unseen
after the first checkpoint either.

Not protected: someone holding both the key and the database (and the sink) can write
a consistent forgery. Keep the key in the deployment's secret store, not beside the
database's backups. See docs/security.md and docs/decisions/0016-tamper-evident-audit.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("healthycity.tamper")

GENESIS = "0" * 64
#: Used only in development, with a warning: anyone can read it here.
DEVELOPMENT_KEY = "healthycity development audit key: not for any real deployment"
MIN_KEY_BYTES = 32
_WEAK_KEYS = frozenset({"changeme", "change-me", "secret", "password", "development", "test"})
_warned: set[str] = set()


class AuditKeyError(ValueError):
    """The audit key is missing or weak where a real one is required."""


def key_problem(raw: str | None, setting: str) -> str | None:
    """Why ``raw`` is not an acceptable audit key (``None`` if it is)."""
    if not raw:
        return f"{setting} is not set (the audit chain's HMAC key)"
    from healthycity.core.settings import secret_problem

    data = raw.encode()
    if (
        len(data) < MIN_KEY_BYTES
        or raw.lower() in _WEAK_KEYS
        or raw == DEVELOPMENT_KEY
        # low in entropy: the same rule as every other secret (core.settings)
        or secret_problem(raw, setting) is not None
    ):
        return (
            f"{setting} is weak (needs {MIN_KEY_BYTES}+ random bytes, e.g. `openssl rand -hex 32`)"
        )
    return None


def resolve_key(raw: str | None, *, environment: str, setting: str) -> bytes:
    """The key to chain with: ``raw``, or the development key (with a warning) in
    development; outside development a missing or weak key is refused."""
    problem = key_problem(raw, setting)
    if problem is None:
        return (raw or "").encode()
    if environment != "development":
        raise AuditKeyError(f"refusing to run in {environment}: {problem}")
    if setting not in _warned:
        _warned.add(setting)
        log.warning("%s; using a development key: the audit log is not tamper-evident", problem)
    return (raw or DEVELOPMENT_KEY).encode()


def link_mac(key: bytes, seq: int, prev: str, material: bytes) -> str:
    """The MAC of the row at ``seq`` whose predecessor's MAC is ``prev``."""
    return hmac.new(key, b"%d\n%s\n" % (seq, prev.encode()) + material, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the log ``log`` had ``seq`` chained rows ending in
    ``head`` (and ``legacy_count`` rows from before the chain, digested) at ``at``.
    ``origin`` is the MAC of the chain's first row: it tells this log's checkpoints
    from another database's in a shared sink."""

    log: str
    origin: str
    seq: int
    head: str
    legacy_count: int
    legacy_digest: str
    at: str
    sig: str = ""

    def _payload(self) -> bytes:
        fields = asdict(self)
        fields.pop("sig")
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)

    def signed(self, key: bytes) -> Checkpoint:
        sig = hmac.new(key, b"checkpoint\n" + self._payload(), hashlib.sha256).hexdigest()
        return Checkpoint(**{**asdict(self), "sig": sig})

    def signature_ok(self, key: bytes) -> bool:
        return hmac.compare_digest(self.signed(key).sig, self.sig)

    def describe(self, path: Path) -> str:
        return (
            f"checkpoint written to {path}: {self.seq} chained rows "
            f"(+{self.legacy_count} sealed from before the chain), head {self.head}"
        )


class FileSink:
    """Checkpoints as JSON lines appended to a file (flushed and fsynced each time).

    Put the file where the database's users cannot rewrite it: another host's mount,
    an append-only (``chattr +a``) file, or a directory a log shipper forwards.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = orjson.dumps(asdict(checkpoint)) + b"\n"
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> tuple[list[Checkpoint], list[str]]:
        """The checkpoints, and a problem for each line that is not one."""
        if not self.path.exists():
            return [], []
        checkpoints: list[Checkpoint] = []
        problems: list[str] = []
        for number, line in enumerate(self.path.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                checkpoints.append(Checkpoint(**orjson.loads(line)))
            except (orjson.JSONDecodeError, TypeError):
                problems.append(f"checkpoint line {number} of {self.path} is not a checkpoint")
        return checkpoints, problems


@dataclass(frozen=True)
class TamperLog:
    """One log's key, where its checkpoints go, and how often."""

    name: str
    key: bytes = field(repr=False)
    sink: FileSink
    every: int = 1000

    def due(self, before: int, after: int) -> bool:
        """Whether appending rows ``before+1..after`` crossed a checkpoint boundary."""
        return self.every > 0 and after // self.every > before // self.every

    def checkpoint(
        self, *, origin: str, seq: int, head: str, legacy: tuple[int, str] = (0, GENESIS)
    ) -> Checkpoint:
        """Sign and write a checkpoint of the log as it stands (after a commit)."""
        checkpoint = Checkpoint(
            log=self.name,
            origin=origin,
            seq=seq,
            head=head,
            legacy_count=legacy[0],
            legacy_digest=legacy[1],
            at=datetime.now(UTC).isoformat(timespec="seconds"),
        ).signed(self.key)
        self.sink.append(checkpoint)
        return checkpoint


# --------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Link:
    """One row as stored: its position, the MACs and the bytes its MAC covers."""

    seq: int
    prev: str
    mac: str
    material: bytes


@dataclass
class Report:
    """The result of checking a log: problems fail it, warnings do not."""

    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self, what: str) -> list[tuple[str, bool]]:
        """What ``audit verify`` prints, each line with whether it goes to stderr."""
        out = [
            (f"rows checked: {self.rows}", False),
            (f"chain head:   {self.head_seq} {self.head_hash}", False),
            (f"checkpoints:  {self.checkpoints} agree", False),
            *((f"warning: {warning}", True) for warning in self.warnings),
            *((f"FAIL: {problem}", True) for problem in self.problems),
        ]
        if self.ok:
            out.append((f"{what} verified: no edits, deletions or truncation", False))
        return out


class _Stop(Exception):
    pass


def verify_log(
    tamper: TamperLog,
    links: Iterable[Link],
    *,
    head: tuple[int, str] | None,
    legacy: tuple[int, str] = (0, GENESIS),
    legacy_until: int = 0,
    max_problems: int = 20,
) -> Report:
    """Walk the chain and check it against the head row and every checkpoint.

    ``legacy_until`` rows at the start of the chain predate the key and carry a plain
    SHA-256 link (the exchange's cut-over); ``legacy`` is the count and digest of rows
    outside the chain (the workspace's cut-over). Both are part of every checkpoint.
    """
    report = Report()
    if head is None:
        report.problems.append("the chain head row is missing")
        return report
    report.head_seq, report.head_hash = head
    checkpoints, unreadable = tamper.sink.read()
    report.problems.extend(unreadable)
    wanted = {c.seq for c in checkpoints} | {legacy_until}
    seen: dict[int, str] = {}
    expected, previous, origin = 1, GENESIS, None

    def problem(text: str) -> None:
        report.problems.append(text)
        if len(report.problems) >= max_problems:
            report.problems.append("stopping: too many problems")
            raise _Stop

    try:
        for link in links:
            report.rows += 1
            if link.seq != expected:
                problem(
                    f"rows {expected}..{link.seq - 1} are missing (deleted)"
                    if link.seq > expected
                    else f"sequence {link.seq} is out of order"
                )
            if link.prev != previous:
                problem(f"row {link.seq} does not follow its predecessor")
            if link.seq <= legacy_until:
                recomputed = hashlib.sha256(link.material).hexdigest()
            else:
                recomputed = link_mac(tamper.key, link.seq, link.prev, link.material)
            intact = hmac.compare_digest(recomputed, link.mac)
            if not intact:
                problem(f"row {link.seq} was altered after it was written")
            if link.seq == 1:  # an origin that fails its own MAC names no other log
                origin = link.mac if intact else ""
            if link.seq in wanted:
                seen[link.seq] = link.mac
            previous, expected = link.mac, link.seq + 1
    except _Stop:
        return report
    last = expected - 1
    if head != (last, previous):
        if head[0] > last:
            report.problems.append(f"rows {last + 1}..{head[0]} are missing from the end (deleted)")
        else:
            report.problems.append("the chain head does not match the last row (head altered)")
    if report.rows and origin is None:  # the first row was deleted: no origin to trust
        origin = ""
    if legacy_until:  # the cut-over's seal: how many unkeyed links, and the last one
        legacy = (legacy_until, seen.get(legacy_until, "missing"))
    _check_checkpoints(report, tamper, checkpoints, seen, origin, last, legacy)
    return report


def _check_checkpoints(
    report: Report,
    tamper: TamperLog,
    checkpoints: list[Checkpoint],
    seen: dict[int, str],
    origin: str | None,
    last: int,
    legacy: tuple[int, str],
) -> None:
    mine = [c for c in checkpoints if c.log == tamper.name]
    foreign = 0
    for checkpoint in mine:
        if not checkpoint.signature_ok(tamper.key):
            report.problems.append(
                f"the checkpoint of {checkpoint.at} (row {checkpoint.seq}) is not signed with "
                "this log's key (forged, or written under another key)"
            )
            continue
        if origin is None and checkpoint.seq > 0:
            report.problems.append(
                f"the log has no chained rows, but the checkpoint of {checkpoint.at} "
                f"recorded {checkpoint.seq} (the log was emptied, or the sink is shared)"
            )
            continue
        if origin and checkpoint.origin not in (origin, GENESIS):
            foreign += 1
            continue
        report.checkpoints += 1
        if checkpoint.seq > last:
            report.problems.append(
                f"the checkpoint of {checkpoint.at} recorded {checkpoint.seq} rows, the log "
                f"now ends at {last}: rows {last + 1}..{checkpoint.seq} were cut off the end"
            )
        elif checkpoint.seq and not hmac.compare_digest(
            seen.get(checkpoint.seq, ""), checkpoint.head
        ):
            report.problems.append(
                f"row {checkpoint.seq} differs from the checkpoint of {checkpoint.at} "
                "(the chain was rewritten)"
            )
        if (checkpoint.legacy_count, checkpoint.legacy_digest) != legacy:
            report.problems.append(
                f"the {legacy[0]} rows from before the chain differ from the seal in the "
                f"checkpoint of {checkpoint.at} ({checkpoint.legacy_count} rows)"
            )
    if foreign:
        report.warnings.append(f"{foreign} checkpoints in {tamper.sink.path} belong to another log")
    if not report.checkpoints and (last or legacy[0]):
        report.warnings.append(
            f"no checkpoint of this log in {tamper.sink.path}: a tail cut off with the head "
            "wound back cannot be detected (run `audit checkpoint`)"
        )


# --------------------------------------------------------------------- after commit

_PENDING = "healthycity.tamper.after_commit"


def after_commit(session: Session, name: str, action: Callable[[], object]) -> None:
    """Run ``action`` once ``session``'s transaction has committed (never on rollback);
    a later call with the same ``name`` in the same transaction replaces the earlier."""
    session.info.setdefault(_PENDING, {})[name] = action


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    for name, action in session.info.pop(_PENDING, {}).items():
        try:
            action()
        except Exception:  # the data are committed; a lost checkpoint is only logged
            log.exception("could not write the %s checkpoint", name)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
