"""IIIF Image API 3.0 for the pages' access images (the upright, cropped JPEG of each page, the
stored ``images/0001.jpg``): the image information document, the parsing of an image request
into pixels, and its rendering. Pure library code: the web app maps URLs onto these functions.

Compliance: level 2 (regions ``full``, ``square``, ``x,y,w,h``, ``pct:x,y,w,h``; sizes ``max``,
``w,``, ``,h``, ``w,h``, ``!w,h``, ``pct:n``; rotation by 90s; qualities default, color, gray;
formats jpg and png), plus mirroring, arbitrary rotation, upscaling (``^``), the bitonal quality
and webp. The largest image a request may ask is bounded by ``maxArea`` (``MAX_AREA`` pixels), and
an upscaled one also by ``MAX_UPSCALE`` times the region on either side (``^1,16000000`` of a page,
within the area, would take seconds and a gigabyte to make): ``^max`` and ``^!w,h`` stop there,
other sizes beyond it are refused (400).

Rounding: a percent region rounds each of x, y, w and h to the nearest pixel (the spec's examples:
``pct:41.6,7.5,40,70`` of a 300x200 image is ``125,15,120,140``); a region partly outside the
image is cropped at its edge; the side a size form leaves out keeps the region's aspect ratio,
rounded to the nearest pixel. A size larger than the region needs ``^``, also for ``!w,h`` (as the
consortium's validator and the common servers read it: without ``^``, ``!2000,2000`` of a
1000x1000 region is an error, not the region as it is).

Decoding a 2480x3508 page takes far longer than cutting a 512-pixel tile from it, so decoded pages
are kept in an ``ImageCache`` (least recently used first out, bounded by total pixels). A request
that scales the region down by 2 or more decodes the JPEG at 1/2, 1/4 or 1/8 of its size (libjpeg
DCT scaling, Pillow's draft mode), kept in the cache apart from the full decode, so a thumbnail
never costs a full decode. Which decode serves a request depends only on the request, so the
same request always gives the same bytes (``etag`` is a strong validator).

The web app, for ``{service}/{region}/{size}/{rotation}/{quality}.{format}``::

    request = iiif_image.parse(region, size, rotation, quality_format, width, height)  # ImageRequestError
    body = iiif_image.render(request, sha256, lambda: store.read(path), cache)       # in a thread
    headers = iiif_image.image_headers(service_id, request, sha256)
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import PIL
from PIL import Image

CONTEXT = "http://iiif.io/api/image/3/context.json"
PROTOCOL = "http://iiif.io/api/image"
PROFILE = "level2"
PROFILE_URI = f"http://iiif.io/api/image/3/{PROFILE}.json"
TILE_SIZE = 512
MAX_AREA = 4096 * 4096  # pixels of the largest image a request may ask (an A3 page at 300 dpi fits)
MAX_UPSCALE = 8  # times the region's width or height an upscaled size may be
A4_PAGE_PIXELS = 2480 * 3508  # an A4 page at 300 dpi
CACHE_PIXELS = 3 * A4_PAGE_PIXELS  # decoded pixels the cache keeps by default: about 78 MB in RGB
ENCODED_BYTES = 32 << 20  # bytes of encoded answers (tiles, thumbnails) the cache keeps by default
JPEG_QUALITY = 85
PNG_COMPRESSION = 3  # zlib level: a whole page as PNG in a fraction of a second, not seconds
FORMATS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
QUALITIES = ("default", "color", "gray", "bitonal")
WEBP_MAX_SIDE = 16383  # the WebP format's limit
SMALLEST_LISTED_SIZE = 128  # pixels on the longer side of the smallest size info.json lists
BITONAL_THRESHOLD = 128  # grey level from which a pixel is white
DRAFT_FACTORS = (8, 4, 2)  # the reductions libjpeg decodes directly
# Part of every ETag: a change in how the same request is rendered must change the ETag.
RENDERING = f"1;jpeg{JPEG_QUALITY};png{PNG_COMPRESSION};pillow{PIL.__version__}"
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
EXTRA_FEATURES = ["canonicalLinkHeader", "mirroring", "profileLinkHeader", "rotationArbitrary", "sizeUpscaling"]

_INT = r"[0-9]+"  # not \d, which takes any script's digits
_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
_PIXEL_REGION = re.compile(rf"({_INT}),({_INT}),({_INT}),({_INT})")
_PERCENT_REGION = re.compile(rf"pct:({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER})")
_SIZE_PERCENT = re.compile(rf"pct:({_NUMBER})")
_SIZE_PIXELS = re.compile(rf"(!)?({_INT})?,({_INT})?")
_ROTATION = re.compile(rf"(!)?({_NUMBER})")


class ImageRequestError(Exception):
    """A request the service cannot answer: ``status`` is the HTTP status to send (400 for a
    malformed or impossible request), ``message`` says why, for the response body."""

    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(f"{status}: {message}")


@dataclass(frozen=True)
class ImageRequest:
    """An image request resolved against the full image: what ``render`` makes."""

    image_size: tuple[int, int]  # width, height of the full image the request was parsed for
    region: tuple[int, int, int, int]  # x, y, width, height in the full image, inside it
    size: tuple[int, int]  # width, height of the scaled region, before rotation
    mirror: bool
    rotation: float  # degrees clockwise, 0 to 360
    quality: str  # one of QUALITIES
    format: str  # a key of FORMATS
    max_area: int = MAX_AREA

    @property
    def media_type(self) -> str:
        return FORMATS[self.format]

    @property
    def upscaled(self) -> bool:
        return self.size[0] > self.region[2] or self.size[1] > self.region[3]

    @property
    def canonical(self) -> str:
        """The request in the spec's canonical form, ``{region}/{size}/{rotation}/{quality}.{format}``."""
        x, y, w, h = self.region
        region = "full" if self.region == (0, 0, *self.image_size) else f"{x},{y},{w},{h}"
        if self.size == _fit_area(w, h, self.max_area, upscale=False):
            size = "max"
        elif self.size == _fit_area(w, h, self.max_area, upscale=True):
            size = "^max"
        else:
            size = f"{'^' if self.upscaled else ''}{self.size[0]},{self.size[1]}"
        rotation = ("!" if self.mirror else "") + _number_text(self.rotation)
        return f"{region}/{size}/{rotation}/{self.quality}.{self.format}"


def info(service_id: str, width: int, height: int, *, max_area: int = MAX_AREA, color: bool = True) -> dict:
    """The image information document (info.json) of a page image of ``width`` x ``height`` whose
    image service is ``service_id`` (the URL before ``/info.json``, no trailing slash). ``color``
    False for a grey page: ``color`` is then not offered as a quality (though still answered)."""
    if width < 1 or height < 1:
        raise ValueError(f"an image of {width}x{height} pixels")
    scale_factors = [1]
    while max(width, height) / scale_factors[-1] > TILE_SIZE:
        scale_factors.append(scale_factors[-1] * 2)
    # one size per tile level but the full one: OpenSeadragon (Mirador's viewer) takes a list as
    # long as the levels for the levels themselves, one level off if it is longer
    sizes = []
    for factor in scale_factors[1:]:
        size = (math.ceil(width / factor), math.ceil(height / factor))
        if max(size) >= SMALLEST_LISTED_SIZE and size[0] * size[1] <= max_area:
            sizes.append({"width": size[0], "height": size[1]})
    document = {
        "@context": CONTEXT,
        "id": service_id,
        "type": "ImageService3",
        "protocol": PROTOCOL,
        "profile": PROFILE,
        "width": width,
        "height": height,
        "maxArea": max_area,
    }
    if sizes:
        document["sizes"] = sizes[::-1]
    document |= {
        "tiles": [{"width": TILE_SIZE, "height": TILE_SIZE, "scaleFactors": scale_factors}],
        "extraQualities": [q for q in QUALITIES if q != "default" and (color or q != "color")],
        "extraFormats": [f for f in FORMATS if f not in ("jpg", "png")],  # jpg and png are in level2
        "extraFeatures": EXTRA_FEATURES,
    }
    return document


def info_media_type(accept: str | None) -> str:
    """The Content-Type of info.json for a request's Accept header: JSON-LD with the context as
    profile, unless the client asks for plain JSON and not for JSON-LD."""
    accepted = (accept or "").lower()
    if "application/json" in accepted and "application/ld+json" not in accepted:
        return "application/json"
    return f'application/ld+json;profile="{CONTEXT}"'


def info_headers(accept: str | None) -> dict[str, str]:
    """The headers of an info.json response (Content-Type, CORS, the profile link)."""
    return {"Content-Type": info_media_type(accept), "Link": f'<{PROFILE_URI}>;rel="profile"', **CORS_HEADERS}


def parse(region: str, size: str, rotation: str, quality_format: str, width: int, height: int,
          *, max_area: int = MAX_AREA) -> ImageRequest:
    """The request of the four path segments after the image service's id, for a full image of
    ``width`` x ``height``; ImageRequestError (400) if it is malformed or asks the impossible."""
    image_size = (width, height)
    box = _parse_region(region, image_size)
    scaled = _parse_size(size, box[2], box[3], max_area)
    mirror, degrees = _parse_rotation(rotation)
    quality, dot, image_format = quality_format.rpartition(".")
    if not dot:
        raise ImageRequestError(400, f"no format in {quality_format!r}: the last segment is quality.format")
    if quality not in QUALITIES:
        raise ImageRequestError(400, f"unsupported quality {quality!r}: one of {', '.join(QUALITIES)}")
    if image_format not in FORMATS:
        raise ImageRequestError(400, f"unsupported format {image_format!r}: one of {', '.join(FORMATS)}")
    if image_format == "webp" and max(_rotated_size(scaled, degrees)) > WEBP_MAX_SIDE:
        raise ImageRequestError(400, f"a WebP image is at most {WEBP_MAX_SIDE} pixels on a side")
    return ImageRequest(image_size, box, scaled, mirror, degrees, quality, image_format, max_area)


def _parse_region(region: str, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = image_size
    if region == "full":
        return 0, 0, width, height
    if region == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    if match := _PIXEL_REGION.fullmatch(region):
        x, y, w, h = (int(v) for v in match.groups())
    elif match := _PERCENT_REGION.fullmatch(region):
        px, py, pw, ph = (Fraction(v) for v in match.groups())
        x, y = _round(px * width / 100), _round(py * height / 100)
        # a width or height above zero is at least one pixel
        w = max(1, _round(pw * width / 100)) if pw else 0
        h = max(1, _round(ph * height / 100)) if ph else 0
    else:
        raise ImageRequestError(400, f"bad region {region!r}: full, square, x,y,w,h or pct:x,y,w,h")
    if w == 0 or h == 0:
        raise ImageRequestError(400, f"region {region!r} has no width or no height")
    if x >= width or y >= height:
        raise ImageRequestError(400, f"region {region!r} is outside the image ({width}x{height})")
    return x, y, min(w, width - x), min(h, height - y)


def _parse_size(size: str, region_width: int, region_height: int, max_area: int) -> tuple[int, int]:
    upscale = size.startswith("^")
    form = size[1:] if upscale else size
    rw, rh = region_width, region_height
    confined = False
    if form == "max":
        return _fit_area(rw, rh, max_area, upscale)
    if match := _SIZE_PERCENT.fullmatch(form):
        percent = Fraction(match.group(1))
        if percent > 100 and not upscale:
            raise ImageRequestError(400, f"size {size!r} is over 100%: upscaling needs ^")
        scaled = _round(rw * percent / 100), _round(rh * percent / 100)
    elif (match := _SIZE_PIXELS.fullmatch(form)) and (match.group(2) or match.group(3)):
        confined, w, h = bool(match.group(1)), match.group(2), match.group(3)
        if confined:
            if w is None or h is None:
                raise ImageRequestError(400, f"bad size {size!r}: !w,h needs both")
            w, h = int(w), int(h)
            if w == 0 or h == 0:
                raise ImageRequestError(400, f"size {size!r} has no width or no height")
            if w * rh <= h * rw:  # the width binds
                scaled = w, _round(Fraction(rh * w, rw))
            else:
                scaled = _round(Fraction(rw * h, rh)), h
        elif w is not None and h is not None:
            scaled = int(w), int(h)
        elif w is not None:
            scaled = int(w), _round(Fraction(rh * int(w), rw))
        else:
            scaled = _round(Fraction(rw * int(h), rh)), int(h)
    else:
        raise ImageRequestError(400, f"bad size {size!r}: max, w,, ,h, w,h, !w,h or pct:n, each may start with ^")
    if min(scaled) < 1:
        raise ImageRequestError(400, f"size {size!r} of a {rw}x{rh} region is less than one pixel")
    if not upscale and (scaled[0] > rw or scaled[1] > rh):
        raise ImageRequestError(400, f"size {size!r} is larger than the {rw}x{rh} region: upscaling needs ^")
    too_large = scaled[0] * scaled[1] > max_area
    too_far = scaled[0] > rw * MAX_UPSCALE or scaled[1] > rh * MAX_UPSCALE
    if confined and (too_large or too_far):
        return _fit_area(rw, rh, max_area, upscale=True)  # as large as possible within the limits
    if too_large:
        raise ImageRequestError(400, f"size {size!r} is over the largest image served ({max_area} pixels)")
    if too_far:
        raise ImageRequestError(400, f"size {size!r} is more than {MAX_UPSCALE} times the {rw}x{rh} region")
    return scaled


def _parse_rotation(rotation: str) -> tuple[bool, float]:
    match = _ROTATION.fullmatch(rotation)
    if not match:
        raise ImageRequestError(400, f"bad rotation {rotation!r}: degrees from 0 to 360, ! first to mirror")
    degrees = float(match.group(2))
    if degrees > 360:
        raise ImageRequestError(400, f"rotation {rotation!r} is over 360 degrees")
    return bool(match.group(1)), degrees


def _round(value: Fraction) -> int:
    """To the nearest integer, halves up (Python's round() takes halves to the even integer)."""
    return math.floor(value + Fraction(1, 2))


def _fit_area(width: int, height: int, max_area: int, upscale: bool) -> tuple[int, int]:
    """``width`` x ``height`` scaled to the largest size of the same aspect within ``max_area``
    pixels; never above ``width`` x ``height`` unless ``upscale``."""
    if width * height <= max_area and not upscale:
        return width, height
    scale = math.sqrt(max_area / (width * height))
    if upscale:
        scale = min(scale, MAX_UPSCALE)
    # rounding down keeps the area within the limit
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _rotated_size(size: tuple[int, int], degrees: float) -> tuple[int, int]:
    """The bounding box of a ``size`` image turned by ``degrees`` (the spec's implementation notes)."""
    angle = math.radians(degrees)
    w, h = size
    cos, sin = abs(math.cos(angle)), abs(math.sin(angle))
    return math.ceil(round(w * cos + h * sin, 6)), math.ceil(round(h * cos + w * sin, 6))


def _number_text(value: float) -> str:
    """A number as the spec writes one: an integer if it is one, else no trailing zeros."""
    text = f"{Decimal(repr(value)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def canonical_url(service_id: str, request: ImageRequest) -> str:
    return f"{service_id}/{request.canonical}"


def etag(key: str, request: ImageRequest) -> str:
    """A strong ETag (quoted) for the rendering of ``request`` from the stored image ``key`` (its
    SHA-256): equal requests of the same stored image give equal bytes, so equal ETags."""
    digest = hashlib.sha256(f"{key}\n{request.canonical}\n{RENDERING}".encode()).hexdigest()
    return f'"{digest[:40]}"'


def image_headers(service_id: str, request: ImageRequest, key: str) -> dict[str, str]:
    """The headers of an image response: Content-Type, ETag, the canonical and profile links, CORS."""
    return {
        "Content-Type": request.media_type,
        "ETag": etag(key, request),
        "Link": f'<{canonical_url(service_id, request)}>;rel="canonical", <{PROFILE_URI}>;rel="profile"',
        **CORS_HEADERS,
    }


class ImageCache:
    """Decoded page images, least recently used out first, at most ``max_pixels`` pixels in all
    (an image larger than that is not kept). Entries are keyed by the stored image's key (its
    SHA-256) and the reduction it was decoded at (1, or 2, 4, 8 from a JPEG's draft mode).
    Thread-safe; threads asking for the same decode at once wait for one of them to do it."""

    def __init__(self, max_pixels: int = CACHE_PIXELS, max_dimensions: int = 10_000,
                 max_encoded: int = ENCODED_BYTES):
        self.max_pixels = max_pixels
        self.max_dimensions = max_dimensions
        self.max_encoded = max_encoded
        self._encoded: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._encoded_bytes = 0
        self._lock = threading.Lock()
        self._images: OrderedDict[tuple[str, int], tuple[Image.Image, int]] = OrderedDict()
        self._pixels = 0
        self._decoding: dict[tuple[str, int], threading.Lock] = {}
        self._dimensions: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def encoded(self, key: tuple[str, str], encode: Callable[[], bytes]) -> bytes:
        """The answer to a request (``key``: the stored image's key and the canonical request) as
        encoded before, else ``encode()``'s, kept: the tiles a viewer asks again and again are sent
        without cutting and encoding them each time. At most ``max_encoded`` bytes are kept."""
        with self._lock:
            if key in self._encoded:
                self._encoded.move_to_end(key)
                return self._encoded[key]
        data = encode()
        if len(data) <= self.max_encoded // 8:
            with self._lock:
                if key not in self._encoded:
                    self._encoded[key] = data
                    self._encoded_bytes += len(data)
                while self._encoded_bytes > self.max_encoded:
                    self._encoded_bytes -= len(self._encoded.popitem(last=False)[1])
        return data

    def answer(self, key: tuple[str, str]) -> bytes | None:
        """The answer to a request as encoded before, if kept (``encoded``'s key), else None."""
        with self._lock:
            if key in self._encoded:
                self._encoded.move_to_end(key)
                return self._encoded[key]
        return None

    @property
    def pixels(self) -> int:
        """Pixels held now."""
        with self._lock:
            return self._pixels

    @property
    def entries(self) -> int:
        """Decoded images held now."""
        with self._lock:
            return len(self._images)

    def dimensions(self, key: str, load: Callable[[], bytes]) -> tuple[int, int]:
        """Width and height of the stored image ``key``, read from its header (``load`` gives its
        bytes) once, then remembered (a small table, apart from the pixel bound)."""
        with self._lock:
            if key in self._dimensions:
                self._dimensions.move_to_end(key)
                return self._dimensions[key]
        with Image.open(io.BytesIO(load())) as image:
            size = image.size
        self._remember_dimensions(key, size)
        return size

    def decoded(self, key: str, reduction: int,
                decode: Callable[[], tuple[Image.Image, int]]) -> tuple[Image.Image, int]:
        """The image ``key`` decoded at ``reduction`` and the scale it was decoded at: from the
        cache, else from ``decode()`` (called by one thread at a time for one entry)."""
        entry = (key, reduction)
        with self._lock:
            if found := self._hit(entry):
                return found
            gate = self._decoding.setdefault(entry, threading.Lock())
        with gate:
            with self._lock:
                if found := self._hit(entry):
                    return found
            try:
                image, scale = decode()
                self._put(entry, image, scale)
            finally:
                with self._lock:
                    if self._decoding.get(entry) is gate:
                        del self._decoding[entry]
        return image, scale

    def _hit(self, entry: tuple[str, int]) -> tuple[Image.Image, int] | None:
        found = self._images.get(entry)
        if found:
            self._images.move_to_end(entry)
        return found

    def _put(self, entry: tuple[str, int], image: Image.Image, scale: int) -> None:
        pixels = image.width * image.height
        if pixels > self.max_pixels:
            return
        with self._lock:
            if entry in self._images:
                return
            self._images[entry] = (image, scale)
            self._pixels += pixels
            while self._pixels > self.max_pixels:
                _, (dropped, _) = self._images.popitem(last=False)
                self._pixels -= dropped.width * dropped.height

    def _remember_dimensions(self, key: str, size: tuple[int, int]) -> None:
        with self._lock:
            self._dimensions[key] = size
            self._dimensions.move_to_end(key)
            while len(self._dimensions) > self.max_dimensions:
                self._dimensions.popitem(last=False)


def cached(request: ImageRequest, key: str, cache: ImageCache) -> bytes | None:
    """``render``'s answer if ``cache`` keeps it: sent at once, not counted as a render."""
    return cache.answer((key, request.canonical))


def render(request: ImageRequest, key: str, load: Callable[[], bytes], cache: ImageCache) -> bytes:
    """The image ``request`` asks, encoded, from the stored image ``key`` (its SHA-256): decoded
    through ``cache``, ``load`` giving the stored bytes when the cache lacks them. ValueError if the
    stored image is not the size the request was parsed for."""
    reduction = _reduction(request)

    def decode() -> tuple[Image.Image, int]:
        image, scale = _decode(load(), request.image_size, reduction)
        cache._remember_dimensions(key, request.image_size)
        return image, scale

    def encode() -> bytes:
        page, scale = cache.decoded(key, reduction, decode)
        x, y, w, h = request.region
        image = _scale(page, (x / scale, y / scale, (x + w) / scale, (y + h) / scale), request.size)
        image = _turn(image, request)
        image = _apply_quality(image, request.quality)
        return _encode(image, request.format, request.quality)

    return cache.encoded((key, request.canonical), encode)


def _reduction(request: ImageRequest) -> int:
    """The JPEG draft reduction (8, 4, 2, else 1) a request can be made from without upscaling."""
    ratio = min(request.region[2] / request.size[0], request.region[3] / request.size[1])
    return next((factor for factor in DRAFT_FACTORS if ratio >= factor), 1)


def _decode(data: bytes, image_size: tuple[int, int], reduction: int) -> tuple[Image.Image, int]:
    """The stored image decoded (reduced by ``reduction`` if a JPEG) and the scale it was reduced by."""
    stored = io.BytesIO(data)
    image = Image.open(stored)
    if image.size != image_size:
        raise ValueError(f"the stored image is {image.size[0]}x{image.size[1]}, "
                         f"the request was made for {image_size[0]}x{image_size[1]}")
    scale = 1
    if reduction > 1:
        width, height = image_size
        drafted = image.draft(None, (width // reduction, height // reduction))
        if drafted:  # a JPEG: decoded at 1/scale; other formats decode whole
            scale = round(width / drafted[1][2])
    image.load()
    # the decoded image keeps its file open: closed, it no longer holds the stored bytes, which
    # for a reduced decode weigh more than its pixels
    stored.close()
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode in ("1", "I", "I;16", "F") else "RGB")
    return image, scale


def _scale(page: Image.Image, box: tuple[float, float, float, float], size: tuple[int, int]) -> Image.Image:
    """The ``box`` of the decoded page (fractional after a reduced decode) at ``size``."""
    if all(v == int(v) for v in box) and (box[2] - box[0], box[3] - box[1]) == size:
        return page.crop(tuple(int(v) for v in box))
    return page.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _turn(image: Image.Image, request: ImageRequest) -> Image.Image:
    """Mirrored, then turned clockwise, as the request asks."""
    if request.mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    degrees = request.rotation % 360
    quarter_turns = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    if degrees == 0:
        return image
    if degrees in quarter_turns:
        return image.transpose(quarter_turns[degrees])
    if request.format == "jpg":  # no transparency: the corners are white, as paper
        return image.rotate(-degrees, Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    image = image.convert("LA" if image.mode == "L" else "RGBA")
    return image.rotate(-degrees, Image.Resampling.BICUBIC, expand=True)


def _apply_quality(image: Image.Image, quality: str) -> Image.Image:
    if quality in ("default", "color"):
        return image
    alpha = image.getchannel("A") if image.mode in ("LA", "RGBA") else None
    grey = image.convert("L") if image.mode != "L" else image
    if quality == "bitonal":
        grey = grey.point(lambda level: 255 if level >= BITONAL_THRESHOLD else 0)
    if alpha is not None:
        return Image.merge("LA", (grey, alpha))
    return grey


def _encode(image: Image.Image, image_format: str, quality: str) -> bytes:
    output = io.BytesIO()
    if image_format == "jpg":
        image.save(output, "JPEG", quality=JPEG_QUALITY)
    elif image_format == "png":
        if quality == "bitonal" and image.mode == "L":
            image = image.convert("1", dither=Image.Dither.NONE)
        image.save(output, "PNG", compress_level=PNG_COMPRESSION)
    else:
        image.save(output, "WEBP", quality=JPEG_QUALITY)
    return output.getvalue()
