"""ISO 8601 durations (``P6Y``, ``P1M``, ``P30D``, ``PT12H``) with calendar arithmetic.

Retention periods and statutory clocks are calendar quantities: "one month" from 31 January ends
on the last day of February, not 30 days later. `add_to` follows that rule.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def add_months(moment: datetime, months: int) -> datetime:
    """Same day-of-month ``months`` later, or the month's last day if it has no such day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True, order=False)
class Duration:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. P6Y)")
        return cls(**{k: int(v) for k, v in match.groupdict().items() if v})

    def __str__(self) -> str:
        date = "".join(
            f"{v}{u}"
            for v, u in ((self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D"))
            if v
        )
        time = "".join(
            f"{v}{u}" for v, u in ((self.hours, "H"), (self.minutes, "M"), (self.seconds, "S")) if v
        )
        return "P" + date + (f"T{time}" if time else "") if (date or time) else "P0D"

    def add_to(self, moment: datetime) -> datetime:
        moved = add_months(moment, self.years * 12 + self.months)
        return moved + timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )

    @property
    def approximate_days(self) -> float:
        """For comparing lengths ("is the new retention longer?"), not for deadlines."""
        return (
            self.years * 365.2425
            + self.months * 30.436875
            + self.weeks * 7
            + self.days
            + (self.hours * 3600 + self.minutes * 60 + self.seconds) / 86400
        )

    def __lt__(self, other: Duration) -> bool:
        return self.approximate_days < other.approximate_days

    def __le__(self, other: Duration) -> bool:
        return self.approximate_days <= other.approximate_days

    def __gt__(self, other: Duration) -> bool:
        return self.approximate_days > other.approximate_days

    def __ge__(self, other: Duration) -> bool:
        return self.approximate_days >= other.approximate_days

    def describe(self) -> str:
        """Plain English for notices: "6 years", "1 month and 15 days"."""
        parts = []
        for value, unit in (
            (self.years, "year"),
            (self.months, "month"),
            (self.weeks, "week"),
            (self.days, "day"),
            (self.hours, "hour"),
            (self.minutes, "minute"),
            (self.seconds, "second"),
        ):
            if value:
                parts.append(f"{value} {unit}{'' if value == 1 else 's'}")
        if not parts:
            return "no time"
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise PydanticCustomError(
                    "iso_duration",
                    "{value} is not an ISO 8601 duration (e.g. P6Y)",
                    {"value": repr(value)},
                )
            try:
                return cls.parse(value)
            except ValueError:
                raise PydanticCustomError(
                    "iso_duration",
                    "{value} is not an ISO 8601 duration (e.g. P6Y)",
                    {"value": repr(value)},
                ) from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
            json_schema_input_schema=core_schema.str_schema(),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # OpenAPI documents durations as ISO 8601 strings (JSON Schema's "duration" format).
        return {"type": "string", "format": "duration", "examples": ["P6Y", "P30D"]}
