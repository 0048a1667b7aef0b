"""Imports every model so ``Base.metadata`` knows the whole schema (Alembic reads it from here)."""
from hotline.accounts import UserSession  # noqa: F401
from hotline.callbacks import Callback  # noqa: F401
from hotline.callers import Caller  # noqa: F401
from hotline.calls import Call, OperatorState, OutboundJob  # noqa: F401
from hotline.db import Base
from hotline.knowledge import Article  # noqa: F401
from hotline.system_state import SystemState  # noqa: F401
from hotline.tickets import Ticket, TicketCoUnit, TicketCounter, TicketEvent  # noqa: F401
from hotline.units import Unit  # noqa: F401
from hotline.users import ApiToken, User  # noqa: F401
from hotline.workcalendar import CalendarOverride  # noqa: F401
from scheduler.models import RateSnapshot, SchedulerLease, apscheduler_jobs  # noqa: F401

metadata = Base.metadata
