#!/usr/bin/env python3
"""Holdings register import speed: a generated register of N records (default 5,000), as CSV and
as binary MARC21, imported into a fresh SQLite ledger, then imported again (which adds nothing).

Run: .venv/bin/python bench/holdings_import.py [--records 5000]
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pymarc import Field, Indicators, Record, Subfield  # noqa: E402

from digitize.ledger import holdings, database as ledger  # noqa: E402
from digitize.core.settings import PACKAGED_PROFILES  # noqa: E402


def make_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["call_number", "control_number", "title", "creator", "date", "category"])
        for n in range(count):
            writer.writerow([f"ĐC.{n:06d}", f"C{n:06d}", f"Địa chí huyện {n}", "Nguyễn Văn A", "1999",
                             ("dia_chi", "rare", "endogenous", "other")[n % 4]])


def make_marc(path: Path, count: int) -> None:
    with path.open("wb") as handle:
        for n in range(count):
            record = Record(force_utf8=True)
            record.leader = record.leader[:9] + "a" + record.leader[10:]
            record.add_field(Field(tag="001", data=f"M{n:06d}"))
            record.add_field(Field(tag="245", indicators=Indicators("1", "0"),
                                   subfields=[Subfield("a", f"Lịch sử Hải Dương tập {n}")]))
            record.add_field(Field(tag="264", indicators=Indicators(" ", "1"), subfields=[Subfield("c", "1936")]))
            record.add_field(Field(tag="852", indicators=Indicators(" ", " "), subfields=[Subfield("h", f"HN.{n}")]))
            handle.write(record.as_marc())


def timed(session, path: Path, library) -> tuple[float, holdings.ImportReport]:
    started = time.perf_counter()
    report = holdings.import_file(session, path, library, PACKAGED_PROFILES)
    return time.perf_counter() - started, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=5000)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="digitize-holdings-bench-"))
    session = ledger.open_ledger(f"sqlite:///{work / 'ledger.sqlite'}")
    make_csv(work / "holdings.csv", a.records)
    make_marc(work / "holdings.mrc", a.records)
    for name, code in (("holdings.csv", "HD-CSV"), ("holdings.mrc", "HD-MARC")):
        library = holdings.ensure_library(session, code, code, "hai-duong", "provincial")
        first, report = timed(session, work / name, library)
        again, second = timed(session, work / name, library)
        print(f"{name}: {a.records} records imported in {first:.2f} s (added {report.added}); "
              f"again in {again:.2f} s (added {second.added}, unchanged {second.unchanged})")


if __name__ == "__main__":
    main()
