"""Charts drawn on the server as SVG, for the clinicians' report pages: the template draws a
``<rect>`` per ``Bar`` with its CSS class and a ``<title>`` (no script and no inline style: the
CSP allows neither).  Every chart comes with a table of the same figures on its page."""

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


def weekly_stacked_bars(weeks: list[tuple[datetime.date, dict[str, float]]], keys: list[str], *,
                        css: str, describe, width: int = 640, height: int = 200,
                        most_weeks: int = 26) -> dict:
    """Stacked bars, one per week (the last ``most_weeks``), one segment per key with a
    non-zero value, the first key at the top of each bar.  ``css`` is the segments' class with
    ``{key}`` in it (``"bar--{key}"``); ``describe(week, key, value)`` is a segment's title."""
    weeks = weeks[-most_weeks:]
    most = max((sum(values.get(key, 0) for key in keys) for _week, values in weeks),
               default=0) or 1
    slot = width / max(len(weeks), 1)
    bars = []
    for index, (week, values) in enumerate(weeks):
        bottom = height
        for key in reversed(keys):
            size = values.get(key, 0) / most * (height - 10)
            if size:
                bottom -= size
                bars.append(Bar(x=index * slot + 2, y=bottom, width=max(slot - 4, 1),
                                height=size, css=css.format(key=key),
                                title=describe(week, key, values.get(key, 0))))
    return {"width": width, "height": height, "bars": bars, "most": most}


def weekly_grouped_bars(weeks: list[tuple[datetime.date, dict[str, float | None]]],
                        keys: list[str], *, css: str, describe, width: int = 640,
                        height: int = 200, most_weeks: int = 26) -> dict:
    """Bars side by side, one group per week (the last ``most_weeks``) with a bar per key; a
    value of None draws nothing.  ``css`` and ``describe`` as for ``weekly_stacked_bars``."""
    weeks = weeks[-most_weeks:]
    most = max((value for _week, values in weeks for value in values.values()
                if value is not None), default=0) or 1
    slot = width / max(len(weeks), 1)
    bar_width = max((slot - 4) / max(len(keys), 1), 1)
    bars = []
    for index, (week, values) in enumerate(weeks):
        for position, key in enumerate(keys):
            value = values.get(key)
            if not value:
                continue
            size = value / most * (height - 10)
            bars.append(Bar(x=index * slot + 2 + position * bar_width, y=height - size,
                            width=bar_width, height=size, css=css.format(key=key),
                            title=describe(week, key, value)))
    return {"width": width, "height": height, "bars": bars, "most": most}
