#!/usr/bin/env python3
"""Render Vietnamese text into degraded 'scanned' page images with ground truth.

Usage: vnpages.py TEXT_FILE OUT_DIR --pages N --seed S [--font F] [--level moderate|hard]
       [--paper A4|A5] [--skew DEG] [--turn 0|90|180|270] [--format tif|jpg|png]
Writes OUT_DIR/pNNN.(tif|jpg|png), OUT_DIR/pNNN.gt.txt and OUT_DIR/manifest.json
(true skew angle, dpi, degradations per page).
Importable: render_pages() does the same and returns the manifest entries.
Fonts: Debian fonts-noto-core (the default, Noto Serif), fonts-dejavu-core, fonts-texgyre,
fonts-ebgaramond all cover Vietnamese. Needs numpy and pillow.

Adapted from the shared corpus tool: paper size, forced skew, page turn, format and border.
"""
import argparse, json, random, re, unicodedata
from pathlib import Path
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PAPER_MM = {"A4": (210, 297), "A5": (148, 210)}
DEFAULT_FONT = "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf"
TURN_CW = {0: None, 90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
           270: Image.Transpose.ROTATE_90}

def paragraphs(text):
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"[*#|\\]+", " ", text)
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in paras if len(p) > 40]

def wrap(draw, words, font, width):
    lines, cur = [], ""
    for w in words:
        t = (cur + " " + w).strip()
        if draw.textlength(t, font=font) <= width:
            cur = t
        else:
            if cur:
                lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    return lines

def render(paras, font_path, pt, dpi, rng, paper="A4"):
    W, H = (int(mm / 25.4 * dpi) for mm in PAPER_MM[paper])
    img = Image.new("L", (W, H), 255)
    d = ImageDraw.Draw(img)
    px = int(pt / 72 * dpi)
    font = ImageFont.truetype(font_path, px)
    margin = int(0.1 * W)
    y, lh, gt = margin, int(px * 1.45), []
    while paras:
        lines = wrap(d, paras[0].split(), font, W - 2 * margin)
        if y + lh * min(len(lines), 2) > H - margin:
            break
        for ln in lines:
            if y + lh > H - margin:
                # keep the rest of the paragraph for the next page
                rest = lines[lines.index(ln):]
                paras[0] = " ".join(rest)
                return img, gt
            d.text((margin, y), ln, font=font, fill=rng.randint(0, 40))
            gt.append(ln)
            y += lh
        paras.pop(0)
        y += lh // 2
    return img, gt

def degrade(img, rng, level, skew=None, border=None):
    p = {}
    hard = level == "hard"
    a = np.asarray(img).astype(np.float32)
    H, W = a.shape
    # paper tone, faded ink and uneven illumination
    tone = rng.uniform(170, 205) if hard else rng.uniform(200, 245)
    ink = rng.uniform(50, 110) if hard else 0.0
    a = ink + a / 255 * (tone - ink)
    grad = np.linspace(rng.uniform(-30, 0), rng.uniform(0, 20), W)[None, :]
    a = a + grad * (a > (tone + ink) / 2)
    p["paper_tone"], p["ink"] = round(tone, 1), round(ink, 1)
    noise = rng.uniform(12, 24) if hard else rng.uniform(4, 14)
    a = a + np.random.default_rng(rng.randint(0, 2**31)).normal(0, noise, a.shape)
    p["noise_sigma"] = round(noise, 1)
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    blur = rng.uniform(0.8, 1.5) if hard else rng.uniform(0.3, 1.1)
    out = out.filter(ImageFilter.GaussianBlur(blur))
    p["blur"] = round(blur, 2)
    drawn = round(rng.uniform(-6.0, 6.0) if hard else rng.uniform(-4.0, 4.0), 2)
    skew = drawn if skew is None else round(float(skew), 2)
    out = out.rotate(skew, resample=Image.BICUBIC, expand=True, fillcolor=int(tone * 0.6))
    p["skew_deg"] = skew  # counter-clockwise, as PIL rotates
    # dark scanner border on some pages
    drawn = rng.random() < 0.5
    if drawn if border is None else border:
        b = Image.new("L", (out.width + 80, out.height + 60), 25)
        b.paste(out, (rng.randint(10, 70), rng.randint(10, 50)))
        out = b
        p["scanner_border"] = True
    return out, p

def per_page(value, i):
    """A setting given once for all pages, or as a list with one value per page."""
    return value[i] if isinstance(value, (list, tuple)) else value

def render_pages(text_path, out_dir, pages, seed, level="moderate", dpi=300, paper="A4",
                 pt=11.0, font=DEFAULT_FONT, skew=None, turn=0, fmt=None, border=None):
    """Render up to `pages` consecutive pages of a text; returns the manifest entries.

    level, skew, turn, fmt and border take one value for all pages or a list (one per page).
    skew: true skew in degrees counter-clockwise (None: random); turn: clockwise quarter
    turn of the finished image (the pipeline must turn it back by the same clockwise amount);
    fmt: tif, jpg or png (None: random); border: force the dark scanner border on or off.
    """
    rng = random.Random(seed)
    paras = paragraphs(Path(text_path).read_text(encoding="utf-8"))
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for i in range(pages):
        if not paras:
            break
        lvl, turned = per_page(level, i), per_page(turn, i)
        img, gt = render(paras, font, pt, dpi, rng, paper)
        img, params = degrade(img, rng, lvl, per_page(skew, i), per_page(border, i))
        if TURN_CW[turned] is not None:
            img = img.transpose(TURN_CW[turned])
        drawn = rng.choice(["tif", "jpg", "png"])
        name = save_page(img, gt, out, i + 1, per_page(fmt, i) or drawn, lvl, dpi, rng)
        manifest.append({"image": name, "gt": f"p{i+1:03d}.gt.txt", "dpi": dpi,
                         "font": Path(font).name, "pt": pt, "level": lvl, "paper": paper,
                         **params, "turned_cw": turned})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest

def save_page(img, gt, out, number, ext, level, dpi, rng):
    """Write page ``number`` as ``ext`` (hard pages as harsher JPEGs) with its ground truth; its file name."""
    name = f"p{number:03d}.{ext}"
    kw = {"dpi": (dpi, dpi)}
    if ext == "jpg":
        kw["quality"] = rng.randint(50, 75) if level == "hard" else rng.randint(70, 92)
    if ext == "tif":
        kw["compression"] = "tiff_lzw"
    if ext == "png":  # the same pixels as PNG's default level, written five times faster (noisy pages)
        kw["compress_level"] = 1
    img.save(out / name, **kw)
    (out / f"p{number:03d}.gt.txt").write_text("\n".join(gt) + "\n", encoding="utf-8")
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("text"); ap.add_argument("out")
    ap.add_argument("--pages", type=int, default=5); ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--font", default=DEFAULT_FONT)
    ap.add_argument("--pt", type=float, default=11.0); ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--level", choices=["moderate", "hard"], default="moderate")
    ap.add_argument("--paper", choices=sorted(PAPER_MM), default="A4")
    ap.add_argument("--skew", type=float, default=None)
    ap.add_argument("--turn", type=int, choices=sorted(TURN_CW), default=0)
    ap.add_argument("--format", choices=["tif", "jpg", "png"], default=None)
    a = ap.parse_args()
    manifest = render_pages(a.text, a.out, a.pages, a.seed, a.level, a.dpi, a.paper, a.pt,
                            a.font, a.skew, a.turn, a.format)
    print(f"{len(manifest)} pages -> {a.out}")

if __name__ == "__main__":
    main()
