"""Working days across the 2026 Spring Festival (15–23 Feb off; Sat 14 and Sat 28 Feb are working days)."""
from __future__ import annotations

import datetime as dt

import pytest

from hotline.timelimits import Limit, TimeLimits
from hotline.workcalendar import WorkCalendar

D = dt.date
T = dt.datetime


@pytest.fixture
def cal():
    return WorkCalendar()


def test_spring_festival_and_swapped_weekend_days(cal):
    assert cal.is_workday(D(2026, 2, 13))  # Friday
    assert cal.is_workday(D(2026, 2, 14))  # Saturday made a working day (调休)
    assert not any(cal.is_workday(D(2026, 2, d)) for d in range(15, 24))  # the holiday
    assert cal.is_workday(D(2026, 2, 24))
    assert cal.is_workday(D(2026, 2, 28))  # Saturday made a working day
    assert not cal.is_workday(D(2026, 3, 1))  # an ordinary Sunday


def test_add_working_days_across_the_holiday(cal):
    # Friday 13 Feb 10:00 + 5 working days = 14, 24, 25, 26, 27 Feb.
    assert cal.add_working_days(T(2026, 2, 13, 10), 5) == T(2026, 2, 27, 10)
    # A weekends-only calendar would have said Friday 20 Feb, in the middle of the holiday.
    assert cal.add_working_days(T(2026, 2, 13, 10), 1) == T(2026, 2, 14, 10)
    assert cal.add_working_days(T(2026, 2, 14, 10), 1) == T(2026, 2, 24, 10)
    # Started on a holiday, the clock runs from 00:00 of the next working day.
    assert cal.add_working_days(T(2026, 2, 18, 15), 1) == T(2026, 2, 25, 0)
    assert cal.add_working_days(T(2026, 2, 26, 9), 2) == T(2026, 2, 28, 9)  # lands on the swapped Saturday


def test_working_time_between(cal):
    assert cal.working_seconds_between(T(2026, 2, 13, 12), T(2026, 2, 24, 12)) == 2 * 86400
    assert cal.working_seconds_between(T(2026, 2, 24, 12), T(2026, 2, 13, 12)) == -2 * 86400
    assert cal.working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2


def test_local_overrides_win(cal):
    local = WorkCalendar(overrides={D(2026, 2, 24): False, D(2026, 2, 22): True})
    assert not local.is_workday(D(2026, 2, 24)) and local.is_workday(D(2026, 2, 22))
    assert local.add_working_days(T(2026, 2, 14, 10), 1) == T(2026, 2, 22, 10)


def test_override_table_reaches_the_service(hl):
    from hotline.users import Actor

    hl.directory.set_calendar_override(Actor.system(), D(2026, 11, 24), False, "台风停工")
    assert not hl.calendar.is_workday(D(2026, 11, 24))
    assert hl.calendar.add_working_days(T(2026, 11, 23, 9), 1) == T(2026, 11, 25, 9)


def test_years_without_national_data_fall_back_to_weekends(cal, caplog):
    assert cal.is_workday(D(2031, 3, 3)) and not cal.is_workday(D(2031, 3, 2))
    assert "no national holiday data for 2031" in caplog.text


def test_time_limits_are_configurable(tmp_path):
    path = tmp_path / "limits.json"
    path.write_text('{"reply": {"normal": "7wd"}, "green_reply": "2wd"}', encoding="utf-8")
    limits = TimeLimits.from_file(path)
    assert limits.reply_limit("help", "normal", False) == Limit(7, "wd")
    assert limits.reply_limit("help", "normal", True) == Limit(2, "wd")
    assert limits.reply_limit("inquiry", "normal", False) == Limit(3, "wd")  # default kept
    path.write_text('{"reply": {"normal": "seven days"}}', encoding="utf-8")
    with pytest.raises(ValueError):
        TimeLimits.from_file(path)
