"""The ticket workflow: every step of a ticket's life as a service-layer operation.

Each operation checks who may act, checks the ticket's state, changes it in one transaction, appends
to the ticket's event log and, after the commit, publishes a ``TicketChanged`` event. A refused step
raises and changes nothing. A caller that passes ``expected_version`` (what its screen showed) gets a
``Conflict`` when somebody else changed the ticket first; without it, the version column still stops
two transactions that read the same row from both writing it.

The steps are grouped by phase, one module each: ``intake``, ``dispatch`` (and the unit's part),
``extension`` (time at the unit, presses), ``closing`` (review, close, callbacks, reopen) and
``merge``; ``base`` holds what they share.
"""
from __future__ import annotations

from hotline.app import retry_transactions
from hotline.workflow.base import (
    CENTER_ROLES,
    MAX_CONTENT,
    SUPERVISORS,
    TRACKED,
    Change,
    snapshot,
)
from hotline.workflow.closing import ClosingSteps
from hotline.workflow.dispatch import DispatchSteps
from hotline.workflow.extension import ExtensionSteps
from hotline.workflow.intake import IntakeSteps
from hotline.workflow.merge import MergeSteps


@retry_transactions
class TicketService(IntakeSteps, DispatchSteps, ExtensionSteps, ClosingSteps, MergeSteps):
    """Every workflow step, on ``hotline.tickets``."""


__all__ = ["CENTER_ROLES", "MAX_CONTENT", "SUPERVISORS", "TRACKED", "Change", "TicketService", "snapshot"]
