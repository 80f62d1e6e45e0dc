"""IIIF Image API 3.0 (digitize.access.iiif.image): the parsing of requests against the spec's examples and
rules, the rendering of regions, sizes, rotations and qualities from a picture of known coloured
squares, the bounded cache of decoded pages, and (slow) the consortium's validator against the
module served by a minimal app."""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageChops, ImageStat

from conftest import free_port, uvicorn_server
from digitize.access.iiif import image as iiif_image
from digitize.access.iiif.image import ImageCache, ImageRequestError, parse, render
from iiif_validator import run_validator, validator_image

SQUARE = 200  # pixels on a side of each square of the test picture
COLUMNS, ROWS = 8, 6  # a 1600x1200 picture


def colour(column: int, row: int) -> tuple[int, int, int]:
    """The colour of a square of the test picture: any two squares differ by 28 or more in red or green."""
    return 30 + 28 * column, 40 + 36 * row, 200 - 20 * column - 10 * row


def grid() -> Image.Image:
    image = Image.new("RGB", (COLUMNS * SQUARE, ROWS * SQUARE))
    for column in range(COLUMNS):
        for row in range(ROWS):
            image.paste(colour(column, row), (column * SQUARE, row * SQUARE, (column + 1) * SQUARE, (row + 1) * SQUARE))
    return image


def jpeg(image: Image.Image) -> bytes:
    output = io.BytesIO()
    image.save(output, "JPEG", quality=95, subsampling=0)
    return output.getvalue()


class Page:
    """A stored page image: its bytes, its key (SHA-256) and a ``load`` that counts its calls."""

    def __init__(self, data: bytes, delay: float = 0):
        self.data, self.delay = data, delay
        self.key = hashlib.sha256(data).hexdigest()
        self.loads = 0
        self._lock = threading.Lock()

    def load(self) -> bytes:
        with self._lock:
            self.loads += 1
        time.sleep(self.delay)
        return self.data


@pytest.fixture(scope="module")
def grid_jpeg() -> bytes:
    return jpeg(grid())


def rendered(page: Page, region: str, size: str = "max", rotation: str = "0", quality_format: str = "default.jpg",
             cache: ImageCache | None = None) -> Image.Image:
    request = parse(region, size, rotation, quality_format, COLUMNS * SQUARE, ROWS * SQUARE)
    image = Image.open(io.BytesIO(render(request, page.key, page.load, cache or ImageCache())))
    turned = request.rotation % 180 == 90
    if request.rotation % 90 == 0:
        assert image.size == (request.size[::-1] if turned else request.size), (image.size, request.size)
    return image


def assert_colour(image: Image.Image, x: int, y: int, expected: tuple[int, int, int], tolerance: int = 8):
    """The mean colour of a 9x9 patch around (x, y) is ``expected``."""
    patch = image.convert("RGB").crop((x - 4, y - 4, x + 5, y + 5))
    found = tuple(round(v) for v in ImageStat.Stat(patch).mean)
    assert all(abs(a - b) <= tolerance for a, b in zip(found, expected)), f"at {x},{y}: {found}, not {expected}"


# The parser, on a 300x200 image as in the spec's examples.

@pytest.mark.parametrize(("region", "box"), [
    ("full", (0, 0, 300, 200)),
    ("square", (50, 0, 200, 200)),  # centred on the longer side
    ("125,15,120,140", (125, 15, 120, 140)),
    ("pct:41.6,7.5,40,70", (125, 15, 120, 140)),  # the spec's examples 3 and 4 are the same region
    ("125,15,200,200", (125, 15, 175, 185)),  # partly outside: cropped at the edge (spec: 175,185 px)
    ("pct:41.6,7.5,66.6,100", (125, 15, 175, 185)),
    ("0,0,300,200", (0, 0, 300, 200)),
    ("299,199,1,1", (299, 199, 1, 1)),
    ("pct:0,0,100,100", (0, 0, 300, 200)),
    ("pct:0.1,0,0.1,50", (0, 0, 1, 100)),  # a width above zero is at least one pixel
    ("pct:.5,10.,20,20", (2, 20, 60, 40)),  # 1.5 rounds up to 2
])
def test_region_forms(region, box):
    assert parse(region, "max", "0", "default.jpg", 300, 200).region == box


def test_square_region_of_a_portrait_and_of_a_square_image():
    assert parse("square", "max", "0", "default.jpg", 200, 301).region == (0, 50, 200, 200)
    square = parse("square", "max", "0", "default.jpg", 200, 200)
    assert square.region == (0, 0, 200, 200) and square.canonical == "full/max/0/default.jpg"


@pytest.mark.parametrize("region", [
    "0,0,0,10", "0,0,10,0", "pct:0,0,0,10",  # zero width or height
    "300,0,10,10", "0,200,10,10", "pct:100,0,10,10", "400,400,10,10",  # entirely outside
    "1,2,3", "1,2,3,4,5", "-1,0,10,10", "1.5,0,10,10", "pct:", "pct:1,2,3", "pct:a,b,c,d", "pct:-1,0,10,10",
    "", "Full", "squares", "pct:1,2,3,4 ", "١,2,3,4",  # an Arabic-Indic digit is not a decimal digit here
])
def test_region_errors(region):
    with pytest.raises(ImageRequestError) as error:
        parse(region, "max", "0", "default.jpg", 300, 200)
    assert error.value.status == 400 and error.value.message


@pytest.mark.parametrize(("size", "scaled"), [
    ("max", (300, 200)),
    ("150,", (150, 100)),  # the spec's example 2
    (",150", (225, 150)),  # example 3
    ("pct:50", (150, 100)),  # example 4
    ("225,100", (225, 100)),  # example 5: distorted
    ("!225,100", (150, 100)),  # example 6 (spec: 150,100 px)
    ("!100,225", (100, 67)),
    ("!300,200", (300, 200)),
    ("!300,1000", (300, 200)),  # as large as possible: one side fits the region exactly
    ("1,", (1, 1)),  # 0.67 rounds to 1
    ("100,", (100, 67)),  # 66.67 rounds to 67
    (",1", (2, 1)),  # 1.5 rounds up
    ("pct:33.3", (100, 67)),  # 99.9 and 66.6
    ("pct:100", (300, 200)),
    ("^max", (2400, 1600)),  # as large as the limits allow: MAX_UPSCALE (8x) before MAX_AREA (4096x4096)
    ("^!10000,10000", (2400, 1600)),
    ("^360,", (360, 240)),
    ("^,240", (360, 240)),
    ("^pct:120", (360, 240)),
    ("^360,360", (360, 360)),
    ("^!360,360", (360, 240)),  # spec: 360,240 px
    ("^150,", (150, 100)),  # ^ allows upscaling, it does not require it
])
def test_size_forms(size, scaled):
    assert parse("full", size, "0", "default.jpg", 300, 200).size == scaled


@pytest.mark.parametrize("size", ["^2401,", "^,1601", "^1,16000000", "^pct:801"])
def test_an_upscale_of_more_than_8_times_the_region_is_refused(size):
    with pytest.raises(ImageRequestError, match="more than 8 times|over the largest") as refused:
        parse("full", size, "0", "default.jpg", 300, 200)
    assert refused.value.status == 400


@pytest.mark.parametrize("size", [
    "pct:120", "301,", ",201", "301,200", "300,201",  # larger than the region without ^
    "!600,400",  # a box larger than the region needs ^ too (as the consortium's validator reads it)
    "full",  # Image API 2; 3.0 says max
    "0,", ",0", "0,0", "pct:0", "!0,10", "pct:0.1",  # zero pixels (pct:0.1 is 0.3 x 0.2)
    "!10,", "!,10", ",", "", "abc", "^", "^full", "^^max", "max,", "pct:", "pct:-5", "-10,", "10.5,", "^-10,",
])
def test_size_errors(size):
    with pytest.raises(ImageRequestError) as error:
        parse("full", size, "0", "default.jpg", 300, 200)
    assert error.value.status == 400


def test_sizes_are_bounded_by_the_largest_area():
    limit = 1_000_000  # a 4000x3000 image has 12 million pixels
    request = parse("full", "max", "0", "default.jpg", 4000, 3000, max_area=limit)
    assert request.size == (1154, 866) and request.size[0] * request.size[1] <= limit
    assert request.canonical == "full/max/0/default.jpg"
    assert parse("full", "!4000,4000", "0", "default.jpg", 4000, 3000, max_area=limit).size == (1154, 866)
    assert parse("0,0,400,300", "^max", "0", "default.jpg", 4000, 3000, max_area=limit).size == (1154, 866)
    assert parse("0,0,1000,1000", "max", "0", "default.jpg", 4000, 3000, max_area=limit).size == (1000, 1000)
    assert parse("0,0,1000,1000", "^!9000,9000", "0", "default.jpg", 4000, 3000, max_area=limit).size == (1000, 1000)
    with pytest.raises(ImageRequestError):  # too large a box is no reason to forget the ^
        parse("0,0,100,100", "!9000,9000", "0", "default.jpg", 4000, 3000, max_area=limit)
    for size in ("2000,", "pct:50", "1155,866", "^2000,2000"):
        with pytest.raises(ImageRequestError):
            parse("full", size, "0", "default.jpg", 4000, 3000, max_area=limit)


@pytest.mark.parametrize(("rotation", "mirror", "degrees"), [
    ("0", False, 0), ("90", False, 90), ("180", False, 180), ("270", False, 270), ("22.5", False, 22.5),
    ("!0", True, 0), ("!180", True, 180), ("360", False, 360), ("0.5", False, 0.5), ("090", False, 90),
])
def test_rotation_forms(rotation, mirror, degrees):
    request = parse("full", "max", rotation, "default.jpg", 300, 200)
    assert (request.mirror, request.rotation) == (mirror, degrees)


@pytest.mark.parametrize("rotation", ["361", "-90", "+90", "abc", "!", "!!90", "90!", "", "1e2", "90 "])
def test_rotation_errors(rotation):
    with pytest.raises(ImageRequestError) as error:
        parse("full", "max", rotation, "default.jpg", 300, 200)
    assert error.value.status == 400


@pytest.mark.parametrize("quality_format", ["default.jpg", "color.png", "gray.webp", "bitonal.jpg"])
def test_qualities_and_formats(quality_format):
    request = parse("full", "max", "0", quality_format, 300, 200)
    assert f"{request.quality}.{request.format}" == quality_format
    assert request.media_type == {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[request.format]


@pytest.mark.parametrize("quality_format", [
    "grey.jpg", "native.jpg", "default.gif", "default.tif", "default.JPG", "default", "default.", ".jpg",
    "default.jpg.png",
])
def test_quality_and_format_errors(quality_format):
    with pytest.raises(ImageRequestError) as error:
        parse("full", "max", "0", quality_format, 300, 200)
    assert error.value.status == 400


def test_webp_refuses_sides_over_its_limit():
    assert parse("full", "max", "0", "default.webp", 16383, 1000).size == (16383, 1000)
    with pytest.raises(ImageRequestError):  # turned by 5 degrees, 16408 pixels wide
        parse("full", "max", "5", "default.webp", 16383, 1000)
    with pytest.raises(ImageRequestError):
        parse("full", "max", "0", "default.webp", 16384, 10)


@pytest.mark.parametrize(("segments", "canonical"), [
    ("full/max/0/default.jpg", "full/max/0/default.jpg"),
    ("0,0,300,200/300,/0.0/default.jpg", "full/max/0/default.jpg"),
    ("full/300,200/0/default.jpg", "full/max/0/default.jpg"),
    ("full/pct:100/360/default.jpg", "full/max/360/default.jpg"),
    ("full/150,/0/default.jpg", "full/150,100/0/default.jpg"),
    ("full/!225,100/90/default.jpg", "full/150,100/90/default.jpg"),
    ("square/max/0/default.jpg", "50,0,200,200/max/0/default.jpg"),
    ("pct:41.6,7.5,40,70/60,/!90/gray.png", "125,15,120,140/60,70/!90/gray.png"),
    ("125,15,200,200/max/0/default.jpg", "125,15,175,185/max/0/default.jpg"),
    ("full/^360,/22.50/color.jpg", "full/^360,240/22.5/color.jpg"),
    ("full/^pct:100/0/default.jpg", "full/max/0/default.jpg"),
    # the spec's URI encoding examples
    ("0,10,100,200/pct:50/90/default.png", "0,10,100,190/50,95/90/default.png"),
    ("pct:10,10,80,80/50,/22.5/color.jpg", "30,20,240,160/50,33/22.5/color.jpg"),
    ("full/max/270/gray.jpg", "full/max/270/gray.jpg"),
])
def test_canonical_form(segments, canonical):
    request = parse(*segments.split("/"), 300, 200)
    assert request.canonical == canonical
    assert parse(*canonical.split("/"), 300, 200) == request  # the canonical form asks the same
    assert iiif_image.canonical_url("https://x.vn/iiif/L/I/1", request) == f"https://x.vn/iiif/L/I/1/{canonical}"


def test_canonical_form_of_upscaled_max():
    request = parse("0,0,100,100", "^max", "0", "default.jpg", 300, 200, max_area=40_000)
    assert request.size == (200, 200) and request.canonical == "0,0,100,100/^max/0/default.jpg"


# The image information document.

def test_info_of_an_a4_page():
    document = iiif_image.info("https://x.vn/iiif/HD-TV/HD-DC-0001/1", 2480, 3508)
    assert list(document)[0] == "@context"
    assert document["@context"] == "http://iiif.io/api/image/3/context.json"
    assert document["id"] == "https://x.vn/iiif/HD-TV/HD-DC-0001/1"
    assert (document["type"], document["protocol"], document["profile"]) == (
        "ImageService3", "http://iiif.io/api/image", "level2")
    assert (document["width"], document["height"]) == (2480, 3508)
    assert document["tiles"] == [{"width": 512, "height": 512, "scaleFactors": [1, 2, 4, 8]}]
    # a size per tile level but the full one: OpenSeadragon reads a list one longer as the levels
    # themselves, and draws every level one off (the page squashed, search boxes off their words)
    assert document["sizes"] == [{"width": 310, "height": 439}, {"width": 620, "height": 877},
                                 {"width": 1240, "height": 1754}]
    assert document["maxArea"] == iiif_image.MAX_AREA >= 2480 * 3508
    assert document["extraQualities"] == ["color", "gray", "bitonal"]
    assert document["extraFormats"] == ["webp"]
    assert "sizeUpscaling" in document["extraFeatures"]
    json.dumps(document)


def test_info_of_small_grey_and_limited_images():
    assert iiif_image.info("http://x/1", 1000, 1000)["tiles"][0]["scaleFactors"] == [1, 2]
    assert iiif_image.info("http://x/1", 400, 300)["tiles"][0]["scaleFactors"] == [1]
    assert "sizes" not in iiif_image.info("http://x/1", 200, 100)  # none smaller worth listing
    assert "color" not in iiif_image.info("http://x/1", 1000, 1000, color=False)["extraQualities"]
    limited = iiif_image.info("http://x/1", 4000, 3000, max_area=1_000_000)
    assert limited["maxArea"] == 1_000_000
    assert all(s["width"] * s["height"] <= 1_000_000 for s in limited["sizes"])


def test_every_listed_size_and_tile_can_be_asked():
    """The sizes of info.json, and the tiles a viewer asks by the spec's algorithm (implementation
    notes, section 3) at each scale factor, edge tiles included, parse to what they ask."""
    width, height = 2480, 3508
    document = iiif_image.info("http://x/1", width, height)
    for size in document["sizes"]:
        request = parse("full", f"{size['width']},{size['height']}", "0", "default.jpg", width, height)
        assert request.canonical == f"full/{size['width']},{size['height']}/0/default.jpg"
    tiles = document["tiles"][0]
    tile = tiles["width"]
    for s in tiles["scaleFactors"]:
        for n in range(math.ceil(width / (tile * s))):
            for m in range(math.ceil(height / (tile * s))):
                xr, yr = n * tile * s, m * tile * s
                wr, hr = min(tile * s, width - xr), min(tile * s, height - yr)
                ws, hs = (wr + s - 1) // s, (hr + s - 1) // s
                request = parse(f"{xr},{yr},{wr},{hr}", f"{ws},{hs}", "0", "default.jpg", width, height)
                assert (request.region, request.size) == ((xr, yr, wr, hr), (ws, hs))
                assert parse(f"{xr},{yr},{wr},{hr}", f"{ws},", "0", "default.jpg", width, height).size[0] == ws


def test_info_media_type_and_headers():
    json_ld = 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    assert iiif_image.info_media_type(None) == json_ld
    assert iiif_image.info_media_type("application/ld+json") == json_ld
    assert iiif_image.info_media_type("*/*") == json_ld
    assert iiif_image.info_media_type("application/json") == "application/json"
    assert iiif_image.info_media_type("application/json, application/ld+json;q=0.9") == json_ld
    headers = iiif_image.info_headers("application/json")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Link"] == '<http://iiif.io/api/image/3/level2.json>;rel="profile"'


# Rendering, from the picture of coloured squares (a JPEG, as the stored access images).

def test_full_image_at_full_size(grid_jpeg):
    image = rendered(Page(grid_jpeg), "full")
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1600, 1200))
    for column in range(COLUMNS):
        for row in range(ROWS):
            assert_colour(image, column * SQUARE + 100, row * SQUARE + 100, colour(column, row))


def test_region_gives_its_own_pixels(grid_jpeg):
    page = Page(grid_jpeg)
    image = rendered(page, "200,400,400,200")  # squares (1, 2) and (2, 2)
    assert image.size == (400, 200)
    assert_colour(image, 100, 100, colour(1, 2))
    assert_colour(image, 300, 100, colour(2, 2))
    edge = rendered(page, "1500,1100,400,400")  # cropped at the corner: a quarter of square (7, 5)
    assert edge.size == (100, 100)
    assert_colour(edge, 50, 50, colour(7, 5))
    assert_colour(rendered(page, "pct:50,50,12.5,50"), 100, 300, colour(4, 4))  # 800,600,200,600


def test_sizes_scale_the_region(grid_jpeg):
    page = Page(grid_jpeg)
    image = rendered(page, "0,0,800,400", "200,")  # squares 0-3 of rows 0-1 at a quarter
    assert image.size == (200, 100)
    for column in range(4):
        for row in range(2):
            assert_colour(image, column * 50 + 25, row * 50 + 25, colour(column, row))
    distorted = rendered(page, "400,200,200,200", "50,150")
    assert distorted.size == (50, 150)
    assert_colour(distorted, 25, 75, colour(2, 1))
    assert rendered(page, "full", "!300,300").size == (300, 225)
    upscaled = rendered(page, "0,0,100,100", "^pct:300")
    assert upscaled.size == (300, 300)
    assert_colour(upscaled, 150, 150, colour(0, 0))


def test_thumbnail_is_decoded_reduced_and_right(grid_jpeg):
    """A 200-wide thumbnail of the 1600-wide page comes from a JPEG decode at 1/8 (the cache holds
    200x150 pixels, never the whole page), and is the page scaled down."""
    page, cache = Page(grid_jpeg), ImageCache()
    thumbnail = rendered(page, "full", "200,", cache=cache)
    assert thumbnail.size == (200, 150)
    assert cache.pixels == 200 * 150 and cache.entries == 1
    # as from a full decode (both through JPEG at the same quality, whose own loss is larger)
    expected = io.BytesIO()
    Image.open(io.BytesIO(grid_jpeg)).resize((200, 150), Image.Resampling.LANCZOS).save(
        expected, "JPEG", quality=iiif_image.JPEG_QUALITY)
    difference = ImageStat.Stat(ImageChops.difference(thumbnail, Image.open(expected))).mean
    assert max(difference) < 1.5, difference
    for column in range(COLUMNS):
        for row in range(ROWS):
            assert_colour(thumbnail, column * 25 + 12, row * 25 + 12, colour(column, row))
    half = rendered(page, "800,0,800,600", "400,", cache=cache)  # a tile at scale factor 2: a 1/2 decode
    assert cache.pixels == 200 * 150 + 800 * 600 and page.loads == 2
    assert_colour(half, 50, 50, colour(4, 0))
    assert_colour(half, 350, 250, colour(7, 2))


def test_same_request_same_bytes_whatever_the_cache_holds(grid_jpeg):
    """The ETag is strong: a thumbnail's bytes do not depend on whether the full page is cached."""
    page, cache = Page(grid_jpeg), ImageCache()
    request = parse("full", "256,", "0", "default.jpg", 1600, 1200)
    cold = render(request, page.key, page.load, ImageCache())
    render(parse("full", "max", "0", "default.jpg", 1600, 1200), page.key, page.load, cache)
    assert render(request, page.key, page.load, cache) == cold


def test_rotation_and_mirroring(grid_jpeg):
    page = Page(grid_jpeg)
    left, right = colour(0, 0), colour(1, 0)
    region = "0,0,400,200"  # two squares side by side
    turned = rendered(page, region, rotation="90")  # clockwise: the left square goes on top
    assert turned.size == (200, 400)
    assert_colour(turned, 100, 100, left)
    assert_colour(turned, 100, 300, right)
    turned = rendered(page, region, rotation="270")
    assert turned.size == (200, 400)
    assert_colour(turned, 100, 100, right)
    turned = rendered(page, region, rotation="180")
    assert turned.size == (400, 200)
    assert_colour(turned, 100, 100, right)
    mirrored = rendered(page, region, rotation="!0")
    assert_colour(mirrored, 100, 100, right)
    assert_colour(mirrored, 300, 100, left)
    both = rendered(page, region, rotation="!90")  # mirrored first, then turned
    assert both.size == (200, 400)
    assert_colour(both, 100, 100, right)
    assert_colour(both, 100, 300, left)


def test_arbitrary_rotation(grid_jpeg):
    page = Page(grid_jpeg)
    png = rendered(page, "0,0,200,200", "100,", "45", "default.png")
    assert png.mode == "RGBA" and abs(png.width - 141) <= 2 and png.size[0] == png.size[1]
    assert png.getpixel((2, 2))[3] == 0  # transparent corners
    assert_colour(png, png.width // 2, png.height // 2, colour(0, 0))
    jpg = rendered(page, "0,0,200,200", "100,", "45", "default.jpg")
    assert_colour(jpg, 8, 8, (255, 255, 255))
    grey = rendered(page, "0,0,200,200", "100,", "30", "gray.png")
    assert grey.mode == "LA" and grey.getpixel((1, 1))[1] == 0


def test_qualities(grid_jpeg):
    page = Page(grid_jpeg)
    assert rendered(page, "0,0,400,400", "200,", quality_format="color.jpg").mode == "RGB"
    grey = rendered(page, "0,0,400,400", "200,", quality_format="gray.jpg")
    assert grey.mode == "L"
    expected_grey = Image.new("RGB", (1, 1), colour(0, 0)).convert("L").getpixel((0, 0))
    assert abs(grey.getpixel((50, 50)) - expected_grey) <= 3
    bitonal = rendered(page, "full", "400,", quality_format="bitonal.png")
    assert bitonal.mode == "1"
    assert bitonal.getpixel((10, 10)) == 0 and bitonal.getpixel((390, 290)) == 255  # dark and light squares
    bitonal_jpeg = rendered(page, "full", "400,", quality_format="bitonal.jpg")
    counts = bitonal_jpeg.histogram()
    assert bitonal_jpeg.mode == "L" and sum(counts[:16]) + sum(counts[240:]) > 0.97 * 400 * 300


def test_grey_page(grid_jpeg):
    data = jpeg(grid().convert("L"))
    image = rendered(Page(data), "0,0,400,200", quality_format="color.jpg")
    assert image.mode == "L"  # a grey page has no colour to give


def test_formats(grid_jpeg):
    page = Page(grid_jpeg)
    png = rendered(page, "0,0,200,200", "50,", quality_format="default.png")
    assert (png.format, png.mode) == ("PNG", "RGB")
    assert png.getpixel((25, 25)) == pytest.approx(colour(0, 0), abs=3)
    webp = rendered(page, "0,0,200,200", "50,", quality_format="default.webp")
    assert webp.format == "WEBP"
    assert_colour(webp, 25, 25, colour(0, 0))


def test_other_stored_formats_render(grid_jpeg):
    output = io.BytesIO()
    grid().save(output, "PNG")
    page, cache = Page(output.getvalue()), ImageCache()
    assert_colour(rendered(page, "full", "200,", cache=cache), 112, 87, colour(4, 3))
    assert cache.pixels == 1600 * 1200  # a PNG has no reduced decode


def test_wrong_dimensions_are_refused(grid_jpeg):
    page = Page(grid_jpeg)
    request = parse("full", "max", "0", "default.jpg", 1601, 1200)
    with pytest.raises(ValueError, match="1600x1200"):
        render(request, page.key, page.load, ImageCache())


# The cache of decoded pages.

def test_cache_stays_within_its_bound(grid_jpeg):
    pages = [Page(jpeg(grid().rotate(180) if n % 2 else grid()), delay=0) for n in range(2)]
    page_pixels = 1600 * 1200
    cache = ImageCache(max_pixels=3 * page_pixels)
    keys = []
    for n in range(12):
        page = pages[n % 2]
        key = f"{page.key}-{n}"  # twelve stored pages, as the cache sees them
        keys.append(key)
        request = parse("0,0,512,512", "max", "0", "default.jpg", 1600, 1200)
        render(request, key, page.load, cache)
        render(parse("full", "100,", "0", "default.jpg", 1600, 1200), key, page.load, cache)
        assert cache.pixels <= 3 * page_pixels and cache.entries <= 6
    loads = sum(p.loads for p in pages)
    render(parse("512,0,512,512", "max", "0", "default.jpg", 1600, 1200), keys[-1], pages[1].load, cache)
    assert sum(p.loads for p in pages) == loads  # the latest page is still decoded
    render(parse("512,0,512,512", "max", "0", "default.jpg", 1600, 1200), keys[0], pages[0].load, cache)
    assert sum(p.loads for p in pages) == loads + 1  # the first was dropped


def test_image_larger_than_the_cache_is_not_kept(grid_jpeg):
    page, cache = Page(grid_jpeg), ImageCache(max_pixels=1000, max_encoded=0)
    rendered(page, "0,0,100,100", cache=cache)
    rendered(page, "0,0,100,100", cache=cache)
    assert cache.pixels == 0 and page.loads == 2


def test_answers_asked_again_are_sent_as_encoded_before_within_their_bound(grid_jpeg):
    page, cache = Page(grid_jpeg), ImageCache(max_pixels=1000, max_encoded=64 << 10)
    first = iiif_image.render(iiif_image.parse("0,0,400,400", "max", "0", "default.jpg", 1600, 1200), page.key,
                              page.load, cache)
    again = iiif_image.render(iiif_image.parse("0,0,400,400", "max", "0", "default.jpg", 1600, 1200), page.key,
                              page.load, cache)
    assert again == first and page.loads == 1  # not decoded again, although the decode was not kept
    for column in range(4):
        for row in range(3):
            iiif_image.render(iiif_image.parse(f"{column * 400},{row * 400},400,400", "max", "0", "default.png",
                                               1600, 1200), page.key, page.load, cache)
    assert cache._encoded_bytes <= 64 << 10


def test_concurrent_requests_for_a_page_decode_it_once(grid_jpeg):
    page, cache = Page(grid_jpeg, delay=0.1), ImageCache()
    regions = [f"{column * SQUARE},{row * SQUARE},{SQUARE},{SQUARE}" for column in range(4) for row in range(2)]
    with ThreadPoolExecutor(8) as pool:
        images = list(pool.map(lambda region: rendered(page, region, cache=cache), regions))
    assert page.loads == 1 and cache.entries == 1
    for region, image in zip(regions, images):
        column, row = (int(v) // SQUARE for v in region.split(",")[:2])
        assert_colour(image, 100, 100, colour(column, row))


def test_dimensions_read_once(grid_jpeg):
    page, cache = Page(grid_jpeg), ImageCache()
    assert cache.dimensions(page.key, page.load) == (1600, 1200)
    assert cache.dimensions(page.key, page.load) == (1600, 1200) and page.loads == 1
    other = Page(jpeg(grid().rotate(180)))
    rendered(other, "0,0,10,10", cache=cache)  # a decode learns the dimensions too
    assert cache.dimensions(other.key, other.load) == (1600, 1200) and other.loads == 1


# ETags and headers.

def test_etag_and_image_headers():
    full = parse("full", "max", "0", "default.jpg", 300, 200)
    same = parse("0,0,300,200", "300,", "0", "default.jpg", 300, 200)
    other = parse("full", "150,", "0", "default.jpg", 300, 200)
    tag = iiif_image.etag("a" * 64, full)
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 20
    assert iiif_image.etag("a" * 64, same) == tag
    assert iiif_image.etag("a" * 64, other) != tag and iiif_image.etag("b" * 64, full) != tag
    headers = iiif_image.image_headers("https://x.vn/iiif/L/I/1", other, "a" * 64)
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["ETag"] == iiif_image.etag("a" * 64, other)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Link"] == ('<https://x.vn/iiif/L/I/1/full/150,100/0/default.jpg>;rel="canonical", '
                               '<http://iiif.io/api/image/3/level2.json>;rel="profile"')


# The consortium's validator against the module served by a minimal app.

def validator_app(page_jpeg: bytes, cors: bool = True):
    """The service of one page, ``/iiif/VAL/ITEM-1/1``, as the web app lays it out; without ``cors``,
    a faulty one."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Route

    page, cache = Page(page_jpeg), ImageCache()
    width, height = cache.dimensions(page.key, page.load)
    cors_headers = iiif_image.CORS_HEADERS if cors else {}

    def service(request):
        params = request.path_params
        if (params["library"], params["item_id"], params["page"]) != ("VAL", "ITEM-1", "1"):
            return None
        return f"{str(request.base_url).rstrip('/')}/iiif/VAL/ITEM-1/1"

    def not_found():
        return PlainTextResponse("no such image", 404, headers=cors_headers)

    def base(request):
        service_id = service(request)
        return RedirectResponse(f"{service_id}/info.json", 303, headers=cors_headers) if service_id else not_found()

    def info(request):
        service_id = service(request)
        if not service_id:
            return not_found()
        headers = iiif_image.info_headers(request.headers.get("accept"))
        if not cors:
            del headers["Access-Control-Allow-Origin"]
        return Response(json.dumps(iiif_image.info(service_id, width, height)),
                        media_type=headers.pop("Content-Type"), headers=headers)

    def image(request):
        service_id, params = service(request), request.path_params
        if not service_id:
            return not_found()
        try:
            wanted = parse(params["region"], params["size"], params["rotation"], params["quality_format"],
                           width, height)
        except ImageRequestError as error:
            return PlainTextResponse(error.message, error.status, headers=cors_headers)
        headers = iiif_image.image_headers(service_id, wanted, page.key)
        if not cors:
            del headers["Access-Control-Allow-Origin"]
        body = render(wanted, page.key, page.load, cache)
        return Response(body, media_type=headers.pop("Content-Type"), headers=headers)

    prefix = "/iiif/{library}/{item_id}/{page}"
    return Starlette(routes=[Route(prefix, base), Route(f"{prefix}/info.json", info),
                             Route(f"{prefix}/{{region}}/{{size}}/{{rotation}}/{{quality_format}}", image)])


@pytest.mark.slow
def test_consortium_validator_passes():
    """Every test of the validator up to level 2 (the profile info.json declares; level 1's tests
    included), against the validator's own picture as a stored JPEG page; a service without CORS
    fails, and so does no service at all."""
    page = jpeg(validator_image())
    with uvicorn_server(validator_app(page)) as base_url:
        passed, output = run_validator(base_url, "iiif/VAL/ITEM-1", "1", level=2)
        assert passed, output
        assert "test size_noup PASS" in output and "test baseurl_redirect PASS" in output, output
    with uvicorn_server(validator_app(page, cors=False)) as base_url:
        passed, output = run_validator(base_url, "iiif/VAL/ITEM-1", "1", level=1)
        assert not passed and "test cors FAIL" in output, output
    passed, output = run_validator(f"http://127.0.0.1:{free_port()}", "iiif/VAL/ITEM-1", "1", only=("id_basic",))
    assert not passed, output
