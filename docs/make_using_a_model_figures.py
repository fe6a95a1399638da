"""Regenerate the pictures of docs/using-a-model.md from a real run.

    python docs/make_using_a_model_figures.py [RUN]
    python docs/make_using_a_model_figures.py --roundtrip RUN

Without RUN it trains the chapter's defaults into runs/docs first (about 10 s). It draws the
sample pictures in docs/img/samples/ with Pillow (flat drawings and two Fashion-MNIST test
images dressed up as photos), then runs `scratchmlp evaluate` and `scratchmlp predict --show`.
`--roundtrip` measures how faithful the picture preparation is: every test image made into a
colour photo (PNG and JPEG, in memory) and read back; a few minutes.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from scratchmlp.cli import main
from scratchmlp.data import load

DOCS = Path(__file__).resolve().parent
SAMPLES = DOCS / "img" / "samples"


def trousers(path):  # dark denim on a white floor, portrait photo size
    image = Image.new("RGB", (420, 640), (250, 250, 247))
    draw = ImageDraw.Draw(image)
    draw.polygon([(120, 60), (300, 60), (330, 600), (235, 600), (210, 220), (185, 600),
                  (90, 600)], fill=(38, 52, 92))
    draw.rectangle([118, 60, 302, 92], fill=(28, 38, 70))
    image.save(path)


def tshirt(path):  # a red shirt on light grey, saved as JPEG
    image = Image.new("RGB", (600, 520), (228, 228, 232))
    draw = ImageDraw.Draw(image)
    draw.polygon([(200, 70), (260, 60), (300, 95), (340, 60), (400, 70), (520, 170),
                  (460, 240), (420, 205), (420, 470), (180, 470), (180, 205), (140, 240),
                  (80, 170)], fill=(196, 40, 46))
    image.save(path, quality=88)


def bag(path):  # a tan handbag with a handle
    image = Image.new("RGB", (500, 500), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.arc([150, 60, 350, 260], 180, 360, fill=(120, 80, 40), width=18)
    draw.rounded_rectangle([90, 160, 410, 430], radius=24, fill=(181, 134, 82))
    image.save(path)


def fashion_photo(image28, path, tint, size, fmt):
    """A Fashion-MNIST test image as a photo: upscaled, dark on a light, coloured canvas."""
    scale = size // 28
    big = np.kron(image28.astype(np.float32), np.ones((scale, scale), np.float32))
    rgb = 255 - big[..., None] * np.asarray(tint, np.float32)
    canvas = np.full((28 * scale + 120, 28 * scale + 60, 3), 255, np.uint8)
    canvas[60:60 + 28 * scale, 30:30 + 28 * scale] = np.clip(rgb, 0, 255).astype(np.uint8)
    Image.fromarray(canvas).save(path, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))


def roundtrip(run_dir):
    """Share of test images whose prediction survives the trip to a photo and back."""
    from scratchmlp.data.images import load_image
    from scratchmlp.train.evaluation import probabilities
    from scratchmlp.train.modelfile import load_model

    model, _ = load_model(Path(run_dir) / "model.npz")
    data = load()
    original = probabilities(model, data.test_images).argmax(axis=1)
    print(f"test accuracy on the originals: {np.mean(original == data.test_labels):.4f}")
    for fmt in ("PNG", "JPEG"):
        seen = []
        for image28 in data.test_images:
            buffer = io.BytesIO()
            fashion_photo(image28, buffer, (0.9, 1.0, 0.6), 224, fmt)
            buffer.seek(0)
            seen.append(load_image(buffer))
        guesses = probabilities(model, np.stack(seen)).argmax(axis=1)
        print(f"{fmt}: same class as on the original {np.mean(guesses == original):.2%}, "
              f"test accuracy {np.mean(guesses == data.test_labels):.4f}, mean |pixel "
              f"difference| {np.abs(np.stack(seen) - data.test_images / 255).mean():.4f}")


def light_on_dark(image28, path):  # already Fashion-MNIST's way round, small and grey
    Image.fromarray(image28).resize((56, 56), Image.Resampling.BICUBIC).save(path)


def draw_samples():
    SAMPLES.mkdir(parents=True, exist_ok=True)
    test = load().test_images
    trousers(SAMPLES / "trousers.png")
    tshirt(SAMPLES / "t-shirt.jpg")
    bag(SAMPLES / "bag.png")
    fashion_photo(test[0], SAMPLES / "test0-photo.jpg", (0.6, 0.8, 0.9), 336, "JPEG")
    fashion_photo(test[3], SAMPLES / "test3-photo.png", (0.2, 0.9, 0.6), 224, "PNG")
    light_on_dark(test[6], SAMPLES / "test6-grey.png")
    return sorted(SAMPLES.iterdir())


def run(argv):
    print("$ scratchmlp " + " ".join(argv))
    if main(argv):
        sys.exit(f"scratchmlp {argv[0]} failed")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--roundtrip"]:
        roundtrip(sys.argv[2] if len(sys.argv) > 2 else "runs/docs")
        sys.exit()
    run_dir = sys.argv[1] if len(sys.argv) > 1 else "runs/docs"
    if len(sys.argv) == 1:
        run(["train", "--out", run_dir, "--force", "--no-progress"])
    samples = [str(p) for p in draw_samples()]
    run(["evaluate", run_dir, "--out", str(DOCS / "img" / "confusion.png")])
    run(["predict", run_dir, *samples, "--show", "--out", str(DOCS / "img" / "seen.png")])
