"""Working days (工作日) in mainland China, for 公示 periods and appeal deadlines.

The statutory holidays and the weekend days worked instead (调休) change every year
by State Council notice; `chinesecalendar` carries them (2004 up to its release
year). For a year it does not know yet, Monday to Friday is the best guess: the
period then ends a little early rather than silently running across a holiday
nobody has announced.
"""

import datetime as dt

import chinese_calendar


def is_workday(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year past the library's data
        return day.weekday() < 5


def add_workdays(start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start` (start itself not counted): a 公示
    published on Monday for 5 working days runs until the next Monday, or later
    when a holiday falls in between."""
    day, left = start, days
    while left > 0:
        day += dt.timedelta(days=1)
        if is_workday(day):
            left -= 1
    return day


def period_end(start: dt.date, days: int) -> dt.date:
    """The last day of a period of `days` working days that begins on `start` (counted
    when it is a working day): 公示 from Monday for 5 working days ends on Friday."""
    day = start
    counted = 1 if is_workday(day) else 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_workday(day):
            counted += 1
    return day
