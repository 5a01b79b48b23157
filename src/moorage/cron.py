"""A five-field cron schedule as cron reads it (crontab(5), the cron of Debian and Ubuntu): minute
0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-7 (0 and 7 are Sunday) or
sun-sat.  Each field is ``*`` or a comma list of values and ranges ``N-M``, each with an optional
``/STEP``.  cron skips a line it can't read without a word, so a schedule that is off (``0 25 * *
*``) stops the job silently: moorage refuses it before writing it.
"""

from __future__ import annotations

import re

_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
           ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
           ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")))
_ITEM = re.compile(r"^(?P<range>\*|(?P<low>\w+)(?:-(?P<high>\w+))?)(?:/(?P<step>\d+))?$")


def schedule_problem(schedule: str) -> str:
    """Why cron would not run ``schedule`` (a phrase naming the field), or ``""`` when it would."""
    fields = schedule.split()
    if len(fields) != 5:
        return f"a cron schedule has 5 fields (minute hour day month weekday), this one has {len(fields)}"
    for text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for item in text.split(","):
            problem = _item_problem(item, low, high, names)
            if problem:
                return f"its {name} field {text!r}: {problem}"
    return ""


def _item_problem(item: str, low: int, high: int, names: tuple[str, ...]) -> str:
    match = _ITEM.match(item)
    if not match:
        return f"{item!r} is not a value, a range N-M or */STEP"
    if match.group("step") is not None and int(match.group("step")) == 0:
        return "a step of 0"
    values = [v for v in (match.group("low"), match.group("high")) if v is not None]
    numbers = []
    for value in values:
        number = _number(value, names)
        if number is None or not low <= number <= high:
            return f"{value!r} is outside {low}-{high}" + (f" (or {names[0]}-{names[-1]})" if names else "")
        numbers.append(number)
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        return f"the range {item!r} runs backwards"
    return ""


def _number(value: str, names: tuple[str, ...]) -> int | None:
    if value.isdigit():
        return int(value)
    lowered = value.lower()
    if lowered in names:
        return names.index(lowered) + (1 if len(names) == 12 else 0)
    return None
