"""Events the scheduler publishes on the hotline's bus."""
from __future__ import annotations

import dataclasses

from hotline.events import TicketChanged


@dataclasses.dataclass(frozen=True)
class DeadlineLightChanged(TicketChanged):
    """A ticket at a unit turned yellow (near its deadline) or red (overdue).

    A ``TicketChanged`` (action ``deadline_near`` / ``deadline_overdue``, ``event_id`` = the
    ticket's latest event-log id), so every subscriber that refreshes a ticket on a change (the
    unit's and the supervisors' screens) repaints its light; ``light`` and ``due_at`` say what
    changed without a read.
    """

    light: str = ""  # yellow | red
    due_at: str | None = None
