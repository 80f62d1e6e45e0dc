"""Material profiles: TOML data files under <profiles>/materials (by default the package's own,
src/digitize/data/profiles), validated by pydantic."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Literal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from digitize.core import rights
from digitize.core.errors import ConfigError
from digitize.core.models import TIERS, Access, Profile

LIBRARIES = "libraries.toml"
# The acceptable quality levels of ISO 2859-1's single sampling tables that acceptance by sample
# offers (defective pages per hundred; digitize.review.sampling holds the plans)
AQL_SERIES = (0.010, 0.015, 0.025, 0.040, 0.065, 0.10, 0.15, 0.25, 0.40, 0.65, 1.0, 1.5, 2.5, 4.0, 6.5, 10.0)
ACCEPTANCE_RULES = ("review", "sample", "automatic")  # = digitize.ledger.review.RULES


def load_data_files(folder: Path, model: type[BaseModel], key: str, what: str) -> dict:
    """Every `folder/*.toml` validated by `model`, by its `key` field, which must equal the file
    name; a ConfigError names the file that is wrong."""
    found = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            item = model.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, ValidationError, UnicodeDecodeError) as exc:
            raise ConfigError(f"invalid {what}: {exc}", str(path),
                              f"fix the file (see the other {what}s for the keys)") from exc
        if getattr(item, key) != path.stem:
            raise ConfigError(f"{key} {getattr(item, key)!r} differs from the file name", str(path),
                              "make them the same")
        found[path.stem] = item
    if not found:
        raise ConfigError(f"no {what}s found", str(folder), "set DIGITIZE_PROFILES to a profiles folder (or unset it for the packaged one)")
    return found


@lru_cache
def load_profiles(folder: Path) -> dict[str, Profile]:
    return load_data_files(folder / "materials", Profile, "name", "material profile")


def get_profile(folder: Path, name: str) -> Profile:
    profiles = load_profiles(folder)
    if name not in profiles:
        raise ConfigError(f"unknown material profile {name!r}", str(folder / "materials"),
                          f"use one of: {', '.join(sorted(profiles))}")
    return profiles[name]


class LibraryDeclaration(BaseModel):
    """A library as <profiles>/libraries.toml declares it: who it is (for the ledger, the quota and
    the reading site) and the access its items get when their metadata leaves it out."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    province: str | None = None  # the province's plan file name, e.g. hai-duong
    tier: Literal[TIERS] | None = None
    access: Access | None = None
    rights: str | None = None  # a RightsStatements.org or Creative Commons URI for items that state none
    # how its items are accepted (nghiệm thu): a person reviews each, a batch by a random sample,
    # or automatically when no page is flagged; per profile where the table names it; Hán-Nôm
    # items (needs_transcription) are always reviewed
    acceptance: Literal[ACCEPTANCE_RULES] = "review"
    acceptance_per_profile: dict[str, Literal[ACCEPTANCE_RULES]] = {}
    aql: float = 2.5  # acceptance by sample: the AQL of the batch's pages (AQL_SERIES)
    # where its restricted items are read (shown on their public record), and what is offered there
    reading_room: str | None = None  # the reading room's name, e.g. "Phòng đọc địa chí, tầng 2"
    address: str | None = None
    hours: str | None = None  # as the library writes them, e.g. "Thứ Hai–Thứ Sáu, 7:30–17:00"
    list_restricted: bool = True  # False: its restricted records are left out of lists, counts and search
    reading_room_downloads: bool = False  # True: the reading room offers the PDF and file downloads too

    @field_validator("rights")
    @classmethod
    def _rights_uri(cls, value: str | None) -> str | None:
        return rights.canonical(value) if value else None

    @field_validator("aql")
    @classmethod
    def _aql_in_the_series(cls, value: float) -> float:
        if not any(abs(value - step) < 1e-9 for step in AQL_SERIES):
            raise ValueError(f"aql {value} is not one of ISO 2859-1's: {', '.join(f'{s:g}' for s in AQL_SERIES)}")
        return value


@lru_cache
def load_libraries(folder: Path) -> dict[str, LibraryDeclaration]:
    """The libraries declared in <profiles>/libraries.toml, by code (none when the file is absent)."""
    path = folder / LIBRARIES
    if not path.exists():
        return {}
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
        return {code: LibraryDeclaration.model_validate(table) for code, table in tables.items()}
    except (tomllib.TOMLDecodeError, ValidationError, UnicodeDecodeError, AttributeError) as exc:
        raise ConfigError(f"invalid library declarations: {exc}", str(path),
                          'write one table per library code, e.g. [HD-TV] then name = "...", province = '
                          '"hai-duong", tier = "provincial", access = "restricted"') from None


def load_library_defaults(folder: Path) -> dict[str, dict]:
    """Per library code, the metadata its items get when they leave it out (`[HD-TV] access =
    "open"` in <profiles>/libraries.toml)."""
    return {code: declared.model_dump(mode="json", include={"access", "rights"}, exclude_none=True)
            for code, declared in load_libraries(folder).items()}
