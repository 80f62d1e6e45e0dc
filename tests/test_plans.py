"""Province quota plans (src/digitize/data/profiles/plans/*.toml): the data matches the plans table of
DESIGN.md (copied into tests/data/design-plans.md)."""

from __future__ import annotations

import shutil
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from digitize.core.errors import ConfigError
from digitize.core.models import Category
from digitize.ledger.plans import Plan, Report, Target, Tier, load_plans, plan_for, target_for
from digitize.core.settings import PACKAGED_PROFILES

PROFILES = PACKAGED_PROFILES
DESIGN = Path(__file__).parent / "data" / "design-plans.md"  # the table of DESIGN.md, "Why it exists"


def slug(name: str) -> str:
    """Province code from its Vietnamese name: 'Đăk Nông' -> 'dak-nong'."""
    text = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "-".join(text.lower().split())


# The vocabulary of the table's wording (not the plans' facts): what -> category, whose -> tiers.
def category_of(what: str) -> Category:
    what = what.lower()
    if "local-history" in what or "địa chí" in what:
        return Category.dia_chi
    if "endogenous" in what or "nội sinh" in what:
        return Category.endogenous
    if "rare" in what or "ancient" in what:
        return Category.rare
    raise AssertionError(f"DESIGN.md table: no category for {what!r}")


TIER_WORDS = {
    "provincial": Tier.provincial,
    "district": Tier.district,
    "specialized": Tier.specialized,
    "university": Tier.specialized,
    "colleges": Tier.specialized,
    "school": Tier.school,
    "vocational": Tier.school,
    "armed": Tier.armed_forces,
    "public": Tier.public,
    "departments": Tier.public,
    "key libraries": Tier.public,
}


def tiers_of(whose: str) -> set[Tier]:
    tiers = {tier for word, tier in TIER_WORDS.items() if word in whose.lower()}
    assert tiers, f"DESIGN.md table: no library tier for {whose!r}"
    return tiers


def design_rows(text: str) -> list[dict]:
    """The rows of the province plans table: province, plan reference (first row only), what,
    whose, target."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| province")), None)
    assert start is not None, "DESIGN.md: no table of province plans"
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    assert header[1:] == ["what must be digitized", "whose holdings", "target by 2025"], header
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        province, what, whose, target = (cell.strip() for cell in line.strip().strip("|").split("|"))
        reference = None
        if "(" in province:
            province, reference = province.rstrip(")").split("(", 1)
            province, reference = province.strip(), reference.strip()
        rows.append({"province": province, "plan": reference, "what": what, "whose": whose,
                     "percent": int(target.rstrip("%"))})
    return rows


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return load_plans(PROFILES)


def test_the_four_province_plans_load(plans):
    assert sorted(plans) == ["dak-nong", "hai-duong", "phu-yen", "vinh-phuc"]
    for code, plan in plans.items():
        assert plan.province == code
        assert slug(plan.name) == code
        assert plan.deadline == date(2025, 12, 31)
        assert plan.horizon == date(2030, 12, 31)
        assert plan.targets


def test_plans_match_the_design_table(plans):
    rows = design_rows(DESIGN.read_text(encoding="utf-8"))
    assert len(rows) >= 4
    assert {slug(row["province"]) for row in rows} == set(plans), "one plan file per province"
    for row in rows:
        plan = plans[slug(row["province"])]
        if row["plan"]:
            assert plan.plan == row["plan"], row
        category, tiers = category_of(row["what"]), tiers_of(row["whose"])
        matches = [t for t in plan.targets if t.category is category and t.holders == row["whose"]]
        assert len(matches) == 1, f"{plan.province}: no single target for {row}"
        target = matches[0]
        assert target.percent == row["percent"], row
        assert set(target.tiers) == tiers, row
        for tier in tiers:
            assert target_for(plan, category, tier) == row["percent"], (row, tier)
    # and nothing more than the table says
    for code, plan in plans.items():
        assert len(plan.targets) == sum(slug(row["province"]) == code for row in rows), code


def test_rows_of_the_table(plans):
    """A few rows spelled out, as the coordinator reads them."""
    assert target_for(plans["hai-duong"], "rare", "provincial") == 70
    assert target_for(plans["hai-duong"], Category.dia_chi, Tier.provincial) == 100
    assert target_for(plans["hai-duong"], "endogenous", "specialized") == 70
    assert target_for(plans["vinh-phuc"], "rare", "public") == 70
    assert target_for(plans["vinh-phuc"], "rare", "district") == 50
    assert target_for(plans["dak-nong"], "rare", "district") == 60
    assert target_for(plans["dak-nong"], "endogenous", "school") == 70
    assert target_for(plans["phu-yen"], "rare", "public") == 70
    # no target set: None, not 0
    assert target_for(plans["hai-duong"], "dia_chi", "district") is None
    assert target_for(plans["phu-yen"], "endogenous", "school") is None
    assert target_for(plans["vinh-phuc"], "other", "provincial") is None


def test_target_for_rejects_unknown_names(plans):
    with pytest.raises(ConfigError, match="tier"):
        target_for(plans["phu-yen"], "rare", "village")
    with pytest.raises(ConfigError, match="category"):
        target_for(plans["phu-yen"], "maps", "provincial")


def test_reporting_periods(plans):
    phu_yen = plans["phu-yen"].reports
    assert [(r.every, r.due, r.covers) for r in phu_yen] == [("6 months", "05/06", "H1"),
                                                             ("year", "05/12", "year")]
    assert [r.due_date(2026) for r in phu_yen] == [date(2026, 6, 5), date(2026, 12, 5)]
    assert [r.period(2026) for r in phu_yen] == ["2026-H1", "2026"]
    dak_nong = plans["dak-nong"].reports
    assert [(r.every, r.due, r.covers) for r in dak_nong] == [("year", "05/11", "year")]
    assert dak_nong[0].due_date(2025) == date(2025, 11, 5)
    # DESIGN.md states no reporting periods for these two
    assert plans["hai-duong"].reports == []
    assert plans["vinh-phuc"].reports == []


def test_plan_for(plans):
    assert plan_for(plans, "phu-yen").name == "Phú Yên"
    with pytest.raises(ConfigError) as info:
        plan_for(plans, "ha-noi")
    message = str(info.value)
    assert "ha-noi" in message
    for code in plans:
        assert code in message


NEW_PROVINCE = """\
province = "thu-nghiem"
name = "Thử Nghiệm"
plan = "01/KH-UBND, 02/01/2026"
deadline = 2025-12-31
horizon = 2030-12-31

[[reports]]
every = "6 months"
due = "15/06"
covers = "H1"

[[targets]]
category = "dia_chi"
tiers = ["provincial", "district"]
percent = 80
holders = "provincial and district libraries"

[[targets]]
category = "rare"
tiers = ["armed_forces"]
percent = 40
holders = "armed forces libraries"
"""


def test_a_new_province_is_one_more_file(tmp_path):
    (tmp_path / "plans").mkdir()
    shutil.copy(PROFILES / "plans" / "phu-yen.toml", tmp_path / "plans")
    (tmp_path / "plans" / "thu-nghiem.toml").write_text(NEW_PROVINCE, encoding="utf-8")
    plans = load_plans(tmp_path)
    assert sorted(plans) == ["phu-yen", "thu-nghiem"]
    new = plan_for(plans, "thu-nghiem")
    assert new.name == "Thử Nghiệm"
    assert target_for(new, "dia_chi", "district") == 80
    assert target_for(new, "rare", "armed_forces") == 40
    assert target_for(new, "rare", "provincial") is None
    assert new.reports[0].due_date(2026) == date(2026, 6, 15)
    assert plans["phu-yen"] == load_plans(PROFILES)["phu-yen"]


def write_plan(folder: Path, stem: str, text: str) -> Path:
    (folder / "plans").mkdir(exist_ok=True)
    path = folder / "plans" / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, problem", [
    ('category = "dia_chi"', 'category = "maps"', "category"),
    ("percent = 80", "percent = 120", "percent"),
    ('tiers = ["armed_forces"]', 'tiers = ["village"]', "tiers"),
    ('due = "15/06"', 'due = "31/06"', "due"),
    ('due = "15/06"', 'due = "June"', "due"),
    ('covers = "H1"', 'covers = "year"', "cannot cover"),
    ('category = "dia_chi"', 'category = "other"', "other"),
    ('holders = "armed forces libraries"', 'holders = "x"\nquota = 3', "quota"),
    ("horizon = 2030-12-31", "horizon = 2020-12-31", "horizon"),
    ('tiers = ["armed_forces"]', 'tiers = ["district"]\ncategory = "dia_chi"', "Cannot overwrite"),
    ('category = "rare"\ntiers = ["armed_forces"]', 'category = "dia_chi"\ntiers = ["district"]',
     "targets 1 and 2 both set dia_chi for district"),
    ("percent = 80", "percent = 8 0", "Expected"),
], ids=["unknown category", "percent 120", "unknown tier", "no such day", "due not DD/MM",
        "6 months covering a year", "category other", "unknown key", "horizon before deadline",
        "duplicate key", "two targets for one tier", "not TOML"])
def test_a_bad_file_names_the_file(tmp_path, old, new, problem):
    assert old in NEW_PROVINCE
    path = write_plan(tmp_path, "thu-nghiem", NEW_PROVINCE.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_plans(tmp_path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)
    assert info.value.exit_code == 78


def test_province_must_match_the_file_name(tmp_path):
    path = write_plan(tmp_path, "quang-thu", NEW_PROVINCE)
    with pytest.raises(ConfigError, match="differs from the file name") as info:
        load_plans(tmp_path)
    assert str(path) in str(info.value)


def test_no_plans_is_an_error(tmp_path):
    (tmp_path / "plans").mkdir()
    with pytest.raises(ConfigError, match="no province plans"):
        load_plans(tmp_path)


def test_models_directly():
    target = Target(category="rare", tiers=["provincial"], percent=70, holders="provincial library")
    assert target.category is Category.rare and target.tiers == [Tier.provincial]
    with pytest.raises(ValueError):
        Target(category="rare", tiers=[], percent=70, holders="nobody")
    with pytest.raises(ValueError):
        Target(category="rare", tiers=["provincial", "provincial"], percent=70, holders="x")
    with pytest.raises(ValueError):
        Target(category="rare", tiers=["provincial"], percent=-1, holders="x")
    assert Report(every="year", due="29/02", covers="year").due_date(2028) == date(2028, 2, 29)


def test_libraries_are_declared_in_a_data_file_checked_like_the_plans(tmp_path):
    from conftest import ledger_session, sqlite_url
    from digitize.ledger.holdings import ensure_library
    from digitize.core.profiles import load_libraries

    declared = load_libraries(PACKAGED_PROFILES)
    assert declared["HD-TV"].tier == "provincial"
    assert all(library.province in load_plans(PACKAGED_PROFILES) for library in declared.values())
    for text, wrong in (('[X-TV]\ntier = "county"\n', "tier"), ('[X-TV]\nprovince = "hai-duong"\nwebsite = "x"\n',
                                                               "website"), ('[X-TV]\naccess = "Secret"\n', "access")):
        folder = tmp_path / wrong
        folder.mkdir()
        (folder / "libraries.toml").write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=wrong) as refused:
            load_libraries(folder)
        assert "libraries.toml" in str(refused.value)
    with ledger_session(sqlite_url(tmp_path / "ledger.sqlite")) as session:
        # a declared library needs no --name, --province or --tier at its first import
        library = ensure_library(session, "HD-TV", declared=declared["HD-TV"])
        assert (library.name, library.province, library.tier) == ("Thư viện tỉnh Hải Dương", "hai-duong", "provincial")
        with pytest.raises(ConfigError, match="province or tier"):
            ensure_library(session, "NEW-TV")
