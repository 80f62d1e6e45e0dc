"""The IIIF consortium's Image API validator (iiif-validator on PyPI), for tests that check a
running IIIF image service: its Python (in a virtual environment of its own, as it pins its own
Pillow), its test picture, and a run of its command-line script against a server.

The validator (iiif_validator 1.0.5, script ``iiif-validate.py``) runs each test of the level
asked and of the lower ones, logs ``[n] test NAME PASS`` or ``FAIL`` with the URL, what it got and
what it expected, ends with ``Done (N tests, F failures)`` and exits with F as its status. Most
tests check the picture's colours, so the service must serve ``validator_image()``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

from conftest import IIIF_TOOLS, tool_python

SQUARE = 100  # pixels on a side of each coloured square; the picture is 10 by 10 squares
# ValidationInfo.colorInfo in iiif_validator/validator.py (iiif-validator 1.0.5): COLOURS[x][y] is
# the colour of the square in column x (from the left) and row y (from the top).
COLOURS = [
    [(61, 170, 126), (61, 107, 178), (82, 85, 234), (164, 122, 110), (129, 226, 88),
     (91, 37, 121), (138, 128, 42), (6, 85, 234), (121, 109, 204), (65, 246, 84)],
    [(195, 133, 120), (171, 43, 102), (118, 45, 130), (242, 105, 171), (5, 85, 105),
     (113, 58, 41), (223, 69, 3), (45, 79, 140), (35, 117, 248), (121, 156, 184)],
    [(168, 92, 163), (28, 91, 143), (86, 41, 173), (111, 230, 29), (174, 189, 7),
     (18, 139, 88), (93, 168, 128), (35, 2, 14), (204, 105, 137), (18, 86, 128)],
    [(107, 55, 178), (251, 40, 184), (47, 36, 139), (2, 127, 170), (224, 12, 114),
     (133, 67, 108), (239, 174, 209), (85, 29, 156), (8, 55, 188), (240, 125, 7)],
    [(112, 167, 30), (166, 63, 161), (232, 227, 23), (74, 80, 135), (79, 97, 47),
     (145, 160, 80), (45, 160, 79), (12, 54, 215), (203, 83, 70), (78, 28, 46)],
    [(102, 193, 63), (225, 55, 91), (107, 194, 147), (167, 24, 95), (249, 214, 96),
     (167, 34, 136), (53, 254, 209), (172, 222, 21), (153, 77, 51), (137, 39, 183)],
    [(159, 182, 192), (128, 252, 173), (148, 162, 90), (192, 165, 115), (154, 102, 2),
     (107, 237, 62), (111, 236, 219), (129, 113, 172), (239, 204, 166), (60, 96, 37)],
    [(72, 172, 227), (119, 51, 100), (209, 85, 165), (87, 172, 159), (188, 42, 162),
     (99, 3, 54), (7, 42, 37), (105, 155, 100), (38, 220, 240), (98, 46, 2)],
    [(18, 223, 145), (189, 121, 17), (88, 3, 210), (181, 16, 43), (189, 39, 244),
     (123, 147, 116), (246, 148, 214), (223, 177, 199), (77, 18, 136), (235, 36, 21)],
    [(146, 137, 176), (84, 248, 55), (61, 144, 79), (110, 251, 49), (43, 105, 132),
     (165, 131, 55), (60, 23, 225), (147, 197, 226), (80, 67, 104), (161, 119, 182)],
]
_DONE = re.compile(r"Done \((\d+) tests, (\d+) failures\)")


def validator_python() -> Path:
    """The Python of the validator's own virtual environment (made once, kept between sessions)."""
    return tool_python("iiif_validator", *IIIF_TOOLS)


def validator_script() -> Path:
    return validator_python().parent / "iiif-validate.py"


def validator_image() -> Image.Image:
    """The validator's test picture: 1000x1000 pixels, 10 by 10 squares of the colours it checks."""
    image = Image.new("RGB", (10 * SQUARE, 10 * SQUARE))
    for x, column in enumerate(COLOURS):
        for y, colour in enumerate(column):
            image.paste(colour, (x * SQUARE, y * SQUARE, (x + 1) * SQUARE, (y + 1) * SQUARE))
    return image


def run_validator(base_url: str, prefix: str, identifier: str, level: int = 1,
                  only: tuple[str, ...] = ()) -> tuple[bool, str]:
    """Every validator test of Image API 3.0 up to ``level`` (or only the tests named) against the
    image service ``{base_url}/{prefix}/{identifier}``: (whether all passed, the validator's log)."""
    url = urlsplit(base_url)
    full_prefix = "/".join(part for part in (url.path.strip("/"), prefix.strip("/")) if part)
    command = [str(validator_python()), str(validator_script()), "--scheme", url.scheme, "--server", url.netloc,
               "--prefix", full_prefix, "--identifier", identifier, "--version=3.0", "--level", str(level)]
    for name in only:
        command += ["--test", name]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    summary = _DONE.search(output)
    # an exit status of 0 alone is not enough: a validator that ran no test also ends with 0
    passed = (done.returncode == 0 and summary is not None and int(summary.group(1)) > 0
              and summary.group(2) == "0" and " FAIL" not in output)
    return passed, output
