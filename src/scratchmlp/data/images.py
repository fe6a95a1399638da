"""Your own pictures as Fashion-MNIST images: 28x28 greyscale, a light object on a dark ground.

Fashion-MNIST was made from product photos on white (Xiao et al., 2017): trim the edges that
have the corners' colour, scale the longest side to 28 pixels, centre on a 28x28 canvas, negate,
8-bit grey. `prepare` repeats those steps on any greyscale array; `load_image` reads a file with
Pillow (imported here, on use) and hands it to `prepare`. Which way round the picture is (dark on
light like a photo, or light on dark like Fashion-MNIST) is read from its border.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np

from ..errors import ScratchMLPError
from ..files import open_regular

SIZE = 28
# Decoded pixels allowed per picture (a 24-megapixel photo fits; a JPEG counts at the reduced
# scale it is decoded at). Checked from the header, before any pixel is decoded: a 130-byte PNG
# can claim 13000x13000 pixels. Keeps one picture's processing well under 1 GB.
MAX_PIXELS = 25_000_000
TRIM_TOLERANCE = 0.05 * 255  # "close to the corners' colour": within 5% of full intensity
BORDER = 0.02                # the border ring used to read the background: 2% of each side


def _pil():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ScratchMLPError("reading your own images needs Pillow: "
                              "pip install pillow (or reinstall scratchmlp)") from None
    return Image, ImageOps


def _border(grey: np.ndarray) -> np.ndarray:
    """The pixels of a ring around the edge, at least one pixel wide."""
    h, w = grey.shape
    dy, dx = max(1, round(h * BORDER)), max(1, round(w * BORDER))
    return np.concatenate([grey[:dy].ravel(), grey[-dy:].ravel(),
                           grey[:, :dx].ravel(), grey[:, -dx:].ravel()])


def prepare(grey) -> np.ndarray:
    """A 2-D greyscale array (0-255, any size) -> float32 (28, 28) in [0, 1], as the model saw it.

    1. a light background (the border's median above mid-grey) means a dark object: negate;
    2. trim the edges within TRIM_TOLERANCE of the background level;
    3. scale the longest side to 28 (aspect kept) and centre on a 28x28 black canvas;
    4. subtract the background level and stretch so the brightest pixel is 1, as in
       Fashion-MNIST, whose images have a black ground and a maximum of 254-255.
    """
    Image, _ = _pil()
    grey = np.asarray(grey, dtype=np.float32)
    if grey.ndim != 2 or grey.size == 0:
        raise ScratchMLPError(f"expected a 2-D greyscale image, got shape {grey.shape}")
    if not np.isfinite(grey).all():
        raise ScratchMLPError("the picture holds NaN or infinite pixel values")
    if np.median(_border(grey)) > 127.5:
        grey = 255 - grey
    background = float(np.median(_border(grey)))
    mask = grey > background + TRIM_TOLERANCE  # rows and columns: no index per pixel
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    del mask
    if rows.size:  # a blank picture stays whole
        grey = grey[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = grey.shape
    scale = SIZE / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # area averaging: every source pixel counts once, so no aliasing from big photos
    small = np.asarray(Image.fromarray(np.ascontiguousarray(grey)).resize(
        (new_w, new_h), Image.Resampling.BOX))
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    # an odd margin puts its extra pixel above / to the left, as Fashion-MNIST's centring did
    top, left = (SIZE - new_h + 1) // 2, (SIZE - new_w + 1) // 2
    canvas[top:top + new_h, left:left + new_w] = np.clip(small - background, 0, None)
    peak = canvas.max()
    if peak > 0:
        canvas /= peak
    return canvas


def _open(path, mode: str = "L", size: int = 8 * SIZE):
    """The picture at `path`, upright (EXIF orientation applied), loaded; clear errors.

    Only a regular file is opened (a FIFO or device would block or never end), and its pixel
    count is checked from the header before anything is decoded."""
    if hasattr(path, "read"):
        return _decode(path, path, mode, size)
    with _open_regular(path) as f:
        return _decode(f, path, mode, size)


def _open_regular(path):
    try:
        f, _ = open_regular(path, "is a directory, not an image file", "give a PNG or JPEG file")
    except FileNotFoundError:
        raise ScratchMLPError(f"{path}: no such image file") from None
    except OSError as e:
        raise ScratchMLPError(f"{path}: cannot read ({e.strerror or e})") from None
    return f


def _decode(source, path, mode: str, size: int):
    Image, ImageOps = _pil()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source, formats=_formats(Image))
            image.draft(mode, (size, size))  # JPEG: decode big photos at a reduced scale
            _check_pixels(image, path)
            image = ImageOps.exif_transpose(image)
            image.load()
    except Image.UnidentifiedImageError:
        raise ScratchMLPError(f"{path}: not an image Pillow can read; give a PNG or JPEG "
                              "file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ScratchMLPError(f"{path}: more pixels than {MAX_PIXELS:,}, too large to open "
                              "safely; scale it down first") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, OverflowError,
            struct.error, ZeroDivisionError, IndexError, KeyError, TypeError) as e:
        # truncated or damaged files: Pillow's plugins raise many kinds of error on them
        raise ScratchMLPError(f"{path}: a damaged or unsupported image "
                              f"({type(e).__name__}: {_first_line(e)}); save it again as PNG "
                              "or JPEG") from None
    return image


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:120] if lines else "no details"


def _formats(Image) -> list:
    """Every format Pillow reads but EPS, whose reader runs Ghostscript (another program, with
    its own history of exploits) on the file."""
    Image.init()
    return [name for name in Image.ID if name != "EPS"]


def _check_pixels(image, path):
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ScratchMLPError(f"{path}: {width}x{height} pixels, more than the {MAX_PIXELS:,} "
                              "this reader decodes; scale it down first")
    if width * height == 0:
        raise ScratchMLPError(f"{path}: an image of {width}x{height} pixels holds nothing")


def _greyscale(image) -> np.ndarray:
    """Float 0-255 luminance. Transparent parts become the ground that contrasts the object."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I", "F"):  # 16-bit and float greys
        grey = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(grey.max()), 255.0)
        return grey * (255.0 / top)
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float32)
    # in place, one float32 plane at a time: a 25-megapixel picture stays a few hundred MB
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    alpha = np.array(rgba.getchannel("A"), dtype=np.float32)
    alpha /= 255
    grey = np.array(rgba.convert("L"), dtype=np.float32)
    del rgba
    coverage = alpha.sum()
    if coverage == 0:
        return np.zeros_like(grey)
    grey *= alpha
    dark_object = grey.sum() / coverage < 127.5
    ground = 255.0 if dark_object else 0.0
    np.subtract(1, alpha, out=alpha)
    alpha *= ground
    grey += alpha
    return grey


def load_image(path) -> np.ndarray:
    """The picture at `path` (PNG, JPEG, ...; any size, colour or grey): float32 (28, 28), 0-1.

    `path` may also be a binary file object, such as io.BytesIO.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's notes on odd files ("Corrupt EXIF data")
        grey = _greyscale(_open(path if hasattr(path, "read") else Path(path)))
    if not np.isfinite(grey).all():
        raise ScratchMLPError(f"{path}: holds NaN or infinite pixel values; save it again as "
                              "PNG or JPEG")
    return prepare(grey)


def thumbnail(path, size: int = 112) -> np.ndarray:
    """The picture as given, uint8 RGB, its longest side at most `size`: for showing beside."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as in load_image
        return _thumbnail(path, size)


def _thumbnail(path, size: int) -> np.ndarray:
    Image, _ = _pil()
    image = _open(Path(path), "RGB", 2 * size)
    if image.mode in ("I;16", "I;16L", "I;16B", "I", "F"):
        image = Image.fromarray(_greyscale(image).round().astype(np.uint8))
    elif "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    image = image.convert("RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image)
