"""Nightly classifier retraining from the center's history.

The classifier engineer provides ``classifier.history.training_pairs(records)`` (turns the
center's handled tickets into (text, unit) training pairs) and
``classifier.training.retrain_if_better(pairs, current_model_path)`` (trains a candidate, scores
it against the current model and replaces the model file only if the candidate is not worse).
When either is missing the job logs that it skipped and does nothing.

``records`` are plain dicts, one per ticket a unit handled and the center closed (``close_kind``
``handled``; first-contact closes and merged children teach nothing about routing): ``content``,
``final_unit`` (the lead unit's code as it stands at closing, i.e. after any return and
re-dispatch), plus ``id, number, title, type, area, unit_id, closed_at, satisfaction``.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import select

from hotline.tickets import Ticket
from hotline.units import Unit

if TYPE_CHECKING:
    from hotline.app import Hotline

log = logging.getLogger(__name__)


def history_records(hl: "Hotline", days: int = 365, batch: int = 2000) -> Iterator[dict[str, Any]]:
    since = hl.now() - dt.timedelta(days=days)
    last_id = 0
    while True:
        with hl.uow(readonly=True) as uow:
            rows = uow.session.execute(
                select(Ticket.id, Ticket.number, Ticket.title, Ticket.content, Ticket.type, Ticket.area,
                       Ticket.unit_id, Unit.code.label("final_unit"), Ticket.closed_at, Ticket.satisfaction)
                .join(Unit, Unit.id == Ticket.unit_id)
                .where(Ticket.status == "closed", Ticket.close_kind == "handled", Ticket.unit_id.is_not(None),
                       Ticket.closed_at >= since, Ticket.id > last_id)
                .order_by(Ticket.id).limit(batch)
            ).all()  # fmt: skip
        if not rows:
            return
        for r in rows:
            yield dict(r._mapping)
        last_id = rows[-1].id


def retrain(hl: "Hotline") -> Any:
    try:
        from classifier.history import training_pairs
        from classifier.training import retrain_if_better
    except ImportError as e:
        log.info("nightly retraining skipped: classifier training is not available (%s)", e)
        return None
    records = list(history_records(hl))
    if not records:
        log.info("nightly retraining skipped: no handled tickets in the history yet")
        return None
    pairs = training_pairs(records)
    result = retrain_if_better(pairs, hl.settings.model_path)
    log.info("nightly retraining on %s tickets: %s", len(records), result)
    return result
