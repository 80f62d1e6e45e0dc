"""Names of the holdings categories, in Vietnamese and English, as metadata: the OAI-PMH set names
(``category:<code>``) and the IIIF manifests. Their order is the order pages list categories in;
the pages' own words for them are in the gettext catalogues (``digitize.access.pages``)."""

from __future__ import annotations

CATEGORY_LABELS = {
    "vi": {"dia_chi": "Địa chí", "rare": "Cổ, quý hiếm, có giá trị đặc biệt", "endogenous": "Nội sinh",
           "other": "Khác"},
    "en": {"dia_chi": "Local history (địa chí)", "rare": "Ancient, rare, special value",
           "endogenous": "Endogenous works", "other": "Other"},
}
