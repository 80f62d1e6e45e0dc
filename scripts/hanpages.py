#!/usr/bin/env python3
"""Render Classical Chinese (Hán) text into 'scanned' page images with ground truth, set either
horizontally (lines left to right, top to bottom, as modern Hán printing) or vertically (columns
top to bottom, right to left, as woodblock prints).

Usage: hanpages.py TEXT_FILE OUT_DIR --direction horizontal|vertical [--pages N] [--seed S]
       [--pt PT] [--paper A4|A5] [--level moderate|hard] [--skew DEG] [--format tif|jpg|png]
Writes OUT_DIR/pNNN.(tif|jpg|png), OUT_DIR/pNNN.gt.txt (one line or column a line, in reading
order) and OUT_DIR/manifest.json. Importable: render_pages() returns the manifest entries.
Needs Debian's fonts-noto-cjk (Noto Serif CJK TC), numpy and pillow; the paper, noise, blur, skew
and scanner border are vnpages.py's.
"""
import argparse, json, random, re, unicodedata
from pathlib import Path
from PIL import Image, ImageDraw, ImageFont
from vnpages import PAPER_MM, degrade, per_page, save_page

DEFAULT_FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
TC_FACE = 3  # the face of the collection with the traditional (Taiwan) glyphs
# woodblock prints carry no punctuation: vertical pages leave it out
PUNCTUATION = re.compile(r"[，。；：、！？「」『』（）《》〈〉·]")


def paragraphs(text, punctuation=True):
    text = unicodedata.normalize("NFC", text)
    paras = [re.sub(r"\s+", "", p) for p in re.split(r"\n\s*\n", text)]
    paras = [p for p in paras if len(p) > 40]  # leaves out the title line with its source note
    return [p if punctuation else PUNCTUATION.sub("", p) for p in paras]


def render(paras, direction, font, px, dpi, paper):
    """One page from the front of ``paras`` (what does not fit stays in it); and its lines."""
    W, H = (int(mm / 25.4 * dpi) for mm in PAPER_MM[paper])
    img = Image.new("L", (W, H), 255)
    d = ImageDraw.Draw(img)
    margin = int(0.1 * W)
    char, line = round(px * 1.05), round(px * 1.7)  # pitch along a line, pitch between lines
    along = (H if direction == "vertical" else W) - 2 * margin
    per_line, lines = along // char, ((W if direction == "vertical" else H) - 2 * margin) // line
    gt, first = [], True  # first: the next line starts a paragraph (indented when horizontal)
    while paras and len(gt) < lines:
        indent = 2 if first and direction == "horizontal" else 0
        chunk = paras[0][:per_line - indent]
        if PUNCTUATION.match(paras[0][len(chunk):len(chunk) + 1]):  # never at a line's start: it hangs
            chunk = paras[0][:len(chunk) + 1]
        for k, ch in enumerate(chunk, start=indent):
            if direction == "vertical":  # columns from the right edge leftwards
                x, y = W - margin - (len(gt) + 1) * line + (line - px) // 2, margin + k * char
            else:
                x, y = margin + k * char, margin + len(gt) * line
            d.text((x, y), ch, font=font, fill=0)
        gt.append(chunk)
        paras[0] = paras[0][len(chunk):]
        first = not paras[0]
        if first:
            paras.pop(0)
    return img, gt


def render_pages(text_path, out_dir, pages, seed, direction="horizontal", level="moderate", dpi=300,
                 paper="A5", pt=14.0, font=DEFAULT_FONT, skew=None, fmt=None, border=None):
    """Render up to ``pages`` consecutive pages of a text; returns the manifest entries. level, skew,
    fmt and border: one value for all pages or a list (one per page), as vnpages.render_pages."""
    rng = random.Random(seed)
    paras = paragraphs(Path(text_path).read_text(encoding="utf-8"), punctuation=direction == "horizontal")
    px = int(pt / 72 * dpi)
    face = ImageFont.truetype(font, px, index=TC_FACE if font.endswith(".ttc") else 0)
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for i in range(pages):
        if not paras:
            break
        lvl = per_page(level, i)
        img, gt = render(paras, direction, face, px, dpi, paper)
        img, params = degrade(img, rng, lvl, per_page(skew, i), per_page(border, i))
        name = save_page(img, gt, out, i + 1, per_page(fmt, i) or rng.choice(["tif", "jpg", "png"]), lvl, dpi, rng)
        manifest.append({"image": name, "gt": f"p{i+1:03d}.gt.txt", "dpi": dpi, "direction": direction,
                         "font": Path(font).name, "pt": pt, "level": lvl, "paper": paper, **params})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("text"); ap.add_argument("out")
    ap.add_argument("--direction", choices=["horizontal", "vertical"], default="horizontal")
    ap.add_argument("--pages", type=int, default=2); ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--font", default=DEFAULT_FONT)
    ap.add_argument("--pt", type=float, default=14.0); ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--level", choices=["moderate", "hard"], default="moderate")
    ap.add_argument("--paper", choices=sorted(PAPER_MM), default="A5")
    ap.add_argument("--skew", type=float, default=None)
    ap.add_argument("--format", choices=["tif", "jpg", "png"], default=None)
    a = ap.parse_args()
    manifest = render_pages(a.text, a.out, a.pages, a.seed, a.direction, a.level, a.dpi, a.paper, a.pt,
                            a.font, a.skew, a.format)
    print(f"{len(manifest)} pages -> {a.out}")


if __name__ == "__main__":
    main()
