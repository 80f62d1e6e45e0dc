"""Province quota plans: TOML data files under <profiles>/plans (by default the package's own,
src/digitize/data/profiles), validated by pydantic.

Each province's plan under Decision 206/QĐ-TTg sets, per category of material and per tier of
library, the percent of the holdings to be digitized by the deadline, and when reports are due.
A new province is one more file: `src/digitize/data/profiles/plans/<province>.toml`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from digitize.core.errors import ConfigError
from digitize.core.models import Category
from digitize.core.profiles import load_data_files

DAY_MONTH = re.compile(r"^(\d{2})/(\d{2})$")
PROVINCE_CODE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Tier(str, Enum):
    """The kind of library a target applies to."""

    provincial = "provincial"      # the provincial library
    district = "district"          # district, town and city libraries
    specialized = "specialized"    # specialized and university libraries, colleges
    school = "school"              # school and vocational-education libraries
    armed_forces = "armed_forces"  # libraries of the people's armed forces
    public = "public"              # other public libraries (departments, key libraries)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _nfc(cls, value):
        return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


class Target(_Strict):
    """One row of a plan: `percent` of the `category` holdings of `tiers` digitized by the deadline."""

    category: Category
    tiers: list[Tier] = Field(min_length=1)
    percent: int = Field(ge=0, le=100)
    holders: str = Field(min_length=1, description="whose holdings, as the plan words it (for display)")

    @field_validator("category")
    @classmethod
    def _quota_category(cls, value: Category) -> Category:
        if value is Category.other:
            raise ValueError("plans set no target for 'other'; use rare, dia_chi or endogenous")
        return value

    @field_validator("tiers")
    @classmethod
    def _unique_tiers(cls, value: list[Tier]) -> list[Tier]:
        if len(set(value)) != len(value):
            raise ValueError("a tier is listed twice")
        return value


class Report(_Strict):
    """A periodic report to the Department of Culture."""

    every: Literal["6 months", "year"]
    due: str = Field(description="day/month the report is due before, e.g. '05/06'")
    covers: Literal["H1", "H2", "year"] = Field(description="the period reported on")

    @field_validator("due")
    @classmethod
    def _day_month(cls, value: str) -> str:
        match = DAY_MONTH.match(value)
        if not match:
            raise ValueError(f"due {value!r} is not DD/MM (day/month, e.g. '05/06')")
        day, month = int(match[1]), int(match[2])
        try:
            date(2024, month, day)  # a leap year, so 29/02 is accepted
        except ValueError:
            raise ValueError(f"due {value!r} is not a day of the year") from None
        return value

    @model_validator(mode="after")
    def _covers_matches_every(self) -> Report:
        if (self.every == "year") != (self.covers == "year"):
            raise ValueError(f"a report every {self.every} cannot cover {self.covers!r}")
        return self

    @property
    def day_month(self) -> tuple[int, int]:
        day, month = self.due.split("/")
        return int(day), int(month)

    def due_date(self, year: int) -> date:
        """The date in `year` the report is due before."""
        day, month = self.day_month
        return date(year, month, day)

    def period(self, year: int) -> str:
        """The period label of `digitize report --period` (`2026-H1`, `2026`)."""
        return str(year) if self.covers == "year" else f"{year}-{self.covers}"


class Plan(_Strict):
    """One province's digitization plan."""

    province: str = Field(description="province code, the same as the file name")
    name: str = Field(min_length=1, description="the province's name in Vietnamese")
    plan: str = Field(min_length=1, description="reference of the provincial plan (number, date)")
    deadline: date
    horizon: date
    targets: list[Target] = Field(min_length=1)
    reports: list[Report] = Field(default_factory=list)

    @field_validator("province")
    @classmethod
    def _code(cls, value: str) -> str:
        if not PROVINCE_CODE.match(value):
            raise ValueError(f"province code {value!r} must be lower-case ASCII words joined by '-'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if self.horizon < self.deadline:
            raise ValueError(f"horizon {self.horizon} is before the deadline {self.deadline}")
        seen: dict[tuple[Category, Tier], int] = {}
        for index, target in enumerate(self.targets):
            for tier in target.tiers:
                key = (target.category, tier)
                if key in seen:
                    raise ValueError(f"targets {seen[key] + 1} and {index + 1} both set "
                                     f"{target.category.value} for {tier.value} libraries")
                seen[key] = index
        return self


@lru_cache
def load_plans(folder: Path) -> dict[str, Plan]:
    """Every plan in `folder/plans/*.toml` (folder = the profiles folder), by province code."""
    return load_data_files(folder / "plans", Plan, "province", "province plan")


def plan_for(plans: dict[str, Plan], province: str) -> Plan:
    """The plan of `province` (its code), or a ConfigError listing the known provinces."""
    if province not in plans:
        raise ConfigError(f"unknown province {province!r}", "province plans",
                          f"use one of: {', '.join(sorted(plans)) or '(none)'}")
    return plans[province]


def target_for(plan: Plan, category: Category | str, tier: Tier | str) -> int | None:
    """The percent `plan` sets for `category` in libraries of `tier`; None if it sets none."""
    try:
        category, tier = Category(category), Tier(tier)
    except ValueError as exc:
        raise ConfigError(str(exc), f"plan {plan.province}",
                          f"use a category of {', '.join(c.value for c in Category)} and a tier of "
                          f"{', '.join(t.value for t in Tier)}") from exc
    for target in plan.targets:
        if target.category is category and tier in target.tiers:
            return target.percent
    return None
