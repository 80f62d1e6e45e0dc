"""Material profiles: TOML data files under profiles/materials, validated by pydantic."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from digitize.errors import ConfigError
from digitize.models import Profile


@lru_cache
def load_profiles(folder: Path) -> dict[str, Profile]:
    materials = folder / "materials"
    profiles = {}
    for path in sorted(materials.glob("*.toml")):
        try:
            profile = Profile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, ValidationError, UnicodeDecodeError) as exc:
            raise ConfigError(f"invalid material profile: {exc}", str(path),
                              "fix the file (see the other profiles for the keys)") from exc
        if profile.name != path.stem:
            raise ConfigError(f"profile name {profile.name!r} differs from the file name", str(path),
                              "make them the same")
        profiles[profile.name] = profile
    if not profiles:
        raise ConfigError("no material profiles found", str(materials),
                          "set DIGITIZE_PROFILES to the project's profiles folder")
    return profiles


def get_profile(folder: Path, name: str) -> Profile:
    profiles = load_profiles(folder)
    if name not in profiles:
        raise ConfigError(f"unknown material profile {name!r}", str(folder / "materials"),
                          f"use one of: {', '.join(sorted(profiles))}")
    return profiles[name]
