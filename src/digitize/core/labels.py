"""Names of the holdings categories, in Vietnamese and English: shown by the dashboard and used as
the OAI-PMH set names (``category:<code>``)."""

from __future__ import annotations

CATEGORY_LABELS = {
    "vi": {"dia_chi": "Địa chí", "rare": "Cổ, quý hiếm, có giá trị đặc biệt", "endogenous": "Nội sinh",
           "other": "Khác"},
    "en": {"dia_chi": "Local history (địa chí)", "rare": "Ancient, rare, special value",
           "endogenous": "Endogenous works", "other": "Other"},
}
