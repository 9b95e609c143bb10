"""The audit trail: every access as an AuditEvent on a hash chain, and the recorder that
commits decisions and their audit entries together."""

from healthycity.exchange.audit.chain import (
    AuditEntry,
    VerifyReport,
    append,
    events_for_person,
    verify,
)
from healthycity.exchange.audit.recorder import Recorder

__all__ = ["AuditEntry", "Recorder", "VerifyReport", "append", "events_for_person", "verify"]
