"""Using a trained model: evaluate in depth, classify your own pictures, export to ONNX.

Real files throughout: runs trained by the CLI on Fashion-MNIST, PNG/JPEG pictures written
with Pillow, .onnx files run in onnxruntime.
"""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from PIL import Image

from scratchmlp.cli import main
from scratchmlp.data import LABELS, DataIter
from scratchmlp.data.images import load_image, prepare
from scratchmlp.errors import ScratchMLPError
from scratchmlp.nn import SGD, SoftmaxCrossEntropyLoss
from scratchmlp.train import train_epoch
from scratchmlp.npx import softmax
from scratchmlp.train.evaluation import confusion_matrix, probabilities
from scratchmlp.train.config import TrainConfig
from scratchmlp.train.modelfile import build_model, load_model, save_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data(real_data):
    return real_data


def _train(out, *flags):
    assert main(["train", "--out", str(out), "--no-progress", *flags]) == 0
    return out


@pytest.fixture(scope="module")
def relu_run(data, tmp_path_factory):
    """The chapter's 784-256-10 ReLU MLP, trained one epoch by the CLI (about 79% test accuracy)."""
    return _train(tmp_path_factory.mktemp("relu") / "run", "--epochs", "1")


@pytest.fixture(scope="module")
def relu_model(relu_run):
    return load_model(relu_run / "model.npz")[0]


def _as_float(images):
    return np.multiply(images, np.float32(1 / 255), dtype=np.float32)


def _is_png(path) -> bool:
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            return False
    with Image.open(path) as image:
        image.verify()  # raises on a damaged file
    return True


# ---- the confusion matrix, softmax --------------------------------------------------------

def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    truth = [0, 0, 1, 2, 2, 2]
    guess = [0, 1, 1, 2, 0, 2]
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(truth, guess, 3), expected)


def test_softmax_is_finite_for_huge_logits():
    logits = np.array([[1e4, 0, -1e4], [3.0, 3.0, 3.0]], dtype=np.float32)
    probs = softmax(logits).data
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(probs[1], 1 / 3, rtol=1e-6)
    assert probs[0, 0] == pytest.approx(1.0)


# ---- scratchmlp evaluate -------------------------------------------------------------------

@pytest.mark.slow  # trains the module's run (one epoch) when it runs first
def test_evaluate_json_agrees_with_the_models_own_predictions(relu_run, relu_model, data,
                                                              capsys, tmp_path):
    picture = tmp_path / "confusion.png"
    assert main(["evaluate", str(relu_run), "--json", "--out", str(picture)]) == 0
    report = json.loads(capsys.readouterr().out)  # exactly one JSON object on stdout

    guesses = relu_model(_as_float(data.test_images)).data.argmax(axis=1)
    truth = data.test_labels
    confusion = np.array(report["confusion"])
    assert report["n"] == len(truth) == 10000
    assert confusion.shape == (10, 10) and confusion.sum() == 10000
    for c in range(10):  # each cell counted straight from the predictions
        assert confusion[c].tolist() == np.bincount(guesses[truth == c], minlength=10).tolist()
    assert report["accuracy"] == pytest.approx(np.mean(guesses == truth))
    assert report["accuracy"] > 0.7  # one epoch of the chapter reaches about 0.79
    assert [row["name"] for row in report["per_class"]] == list(LABELS)
    for c, row in enumerate(report["per_class"]):
        assert row["n"] == np.sum(truth == c) == confusion[c].sum()
        assert row["correct"] == np.sum((truth == c) & (guesses == c)) == confusion[c, c]
        assert row["accuracy"] == pytest.approx(row["correct"] / row["n"])
    assert report["confusion_png"] == str(picture) and _is_png(picture)


def test_evaluate_prints_a_table_and_draws_into_the_run(relu_run, capsys):
    assert main(["evaluate", str(relu_run)]) == 0
    out = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
    metrics = (relu_run / "metrics.csv").read_text().splitlines()
    assert accuracy == pytest.approx(float(metrics[-1].split(",")[3]), abs=1e-4)
    for name in LABELS:  # one row per class: name, n, correct, accuracy
        assert re.search(rf"^{name}\s+1000\s+\d+\s+\d\.\d{{4}}\s", out, re.M), name
    assert _is_png(relu_run / "confusion.png")
    with Image.open(relu_run / "confusion.png") as image:
        assert min(image.size) > 300


# ---- preparing pictures --------------------------------------------------------------------

def _dark_box_on_white():
    grey = np.full((300, 200), 255.0, dtype=np.float32)
    grey[20:120, 130:180] = 40.0  # 100 tall, 50 wide, off-centre
    return grey


def test_prepare_inverts_trims_scales_and_centres():
    seen = prepare(_dark_box_on_white())
    assert seen.shape == (28, 28) and seen.dtype == np.float32
    assert seen.max() == pytest.approx(1.0) and seen.min() == 0.0
    rows, cols = np.nonzero(seen > 0.5)
    assert (rows.min(), rows.max()) == (0, 27)  # the long side fills 28 pixels
    assert (cols.min(), cols.max()) == (7, 20)  # 14 wide (aspect kept), centred
    assert seen[:, :7].max() == 0 and seen[:, 21:].max() == 0


def test_prepare_keeps_light_on_dark_pictures_the_right_way_round():
    picture = _dark_box_on_white()
    np.testing.assert_allclose(prepare(255 - picture), prepare(picture), atol=1e-6)


def _photo(image28, scale=8, tint=(0.9, 1.0, 0.6)):
    """A test image as a colour photo: upscaled, dark on light, on a larger white canvas."""
    big = np.kron(image28.astype(np.float32), np.ones((scale, scale), np.float32))
    rgb = 255 - big[..., None] * np.asarray(tint, np.float32)
    canvas = np.full((28 * scale + 90, 28 * scale + 40, 3), 255, np.uint8)
    canvas[50:50 + 28 * scale, 15:15 + 28 * scale] = rgb.round().astype(np.uint8)
    return canvas


def _confident_examples(model, data, threshold=0.9):
    """Per class, the first test image the model classifies with probability > threshold."""
    probs = probabilities(model, data.test_images[:2000])
    picks = {}
    for i, row in enumerate(probs):
        guess = int(row.argmax())
        if row[guess] > threshold and guess not in picks:
            picks[guess] = i
    return sorted(picks.values())


def test_own_photos_are_classified_like_the_original_test_images(relu_run, relu_model, data,
                                                                 tmp_path, capsys):
    picks = _confident_examples(relu_model, data)
    assert len(picks) >= 8
    files, originals = [], []
    for i in picks:
        photo = Image.fromarray(_photo(data.test_images[i]))
        for suffix, options in ((".png", {}), (".jpg", {"quality": 90})):
            path = tmp_path / f"test{i}{suffix}"
            photo.save(path, **options)
            files.append(path)
            originals.append(data.test_images[i])
    show = tmp_path / "seen.png"
    assert main(["predict", str(relu_run), *map(str, files), "--show", "--out", str(show)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith(str(tmp_path))]
    assert len(lines) == len(files)

    expected = probabilities(relu_model, np.stack(originals)).argmax(axis=1)
    differences = []
    for path, original, line, want in zip(files, originals, lines, expected):
        name, ranked = line.split(": ", 1)
        guesses = re.findall(r"([a-z -]+?) (\d+\.\d)%", ranked)
        assert name == str(path) and len(guesses) == 3
        classes = [LABELS.index(g.strip()) for g, _ in guesses]
        shares = [float(p) for _, p in guesses]
        assert classes[0] == want, path          # the same top class as on the original
        assert shares == sorted(shares, reverse=True) and sum(shares) <= 100.05
        # and the picture the model saw is the original test image, give or take resampling
        # (which picks count as confident shifts with the model's last bits: a few images whose
        # object touches the frame trim a pixel differently, hence a looser bound for each)
        differences.append(np.abs(load_image(path) - original / 255).mean())
        assert differences[-1] < 0.1, path
    assert np.mean(differences) < 0.03, differences
    assert _is_png(show)


def test_grey_16_bit_and_transparent_pictures_prepare_alike(data, tmp_path):
    photo = _photo(data.test_images[0], scale=6, tint=(1, 1, 1))
    reference = load_image(_save(Image.fromarray(photo), tmp_path / "rgb.png"))
    grey = photo[..., 0]
    variants = {
        "grey.png": Image.fromarray(grey),
        "grey16.png": Image.fromarray((grey.astype(np.uint16) * 257)),
        # the object in black, its surroundings transparent (and coloured, to be ignored)
        "alpha.png": Image.fromarray(np.dstack([np.zeros_like(grey), np.zeros_like(grey),
                                                np.full_like(grey, 255), 255 - grey])),
    }
    assert variants["grey16.png"].mode.startswith("I")
    for name, image in variants.items():
        seen = load_image(_save(image, tmp_path / name))
        assert np.abs(seen - reference).max() < 0.02, name


def _save(image, path):
    image.save(path)
    return path


def test_a_small_light_on_dark_picture_is_not_inverted(relu_model, data, tmp_path):
    original = data.test_images[1]
    path = _save(Image.fromarray(original).resize((56, 56), Image.Resampling.NEAREST),
                 tmp_path / "small.png")
    seen = load_image(path)
    assert np.abs(seen - original / 255).mean() < 0.03


@pytest.mark.parametrize("content, expected", [
    (b"not a picture at all\n", "not an image Pillow can read"),
    (PNG_SIGNATURE + b"\x00\x00\x00\rIHDR", "a damaged or unsupported image"),
])
def test_a_file_that_is_not_an_image_is_a_clear_error(relu_run, tmp_path, capsys, content,
                                                      expected):
    path = tmp_path / "notes.png"
    path.write_bytes(content)
    with pytest.raises(ScratchMLPError, match=re.escape(str(path))):
        load_image(path)
    assert main(["predict", str(relu_run), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"scratchmlp: error: {path}: {expected}") and "Traceback" not in err


def test_a_missing_image_is_named(relu_run, tmp_path, capsys):
    missing = tmp_path / "holiday.jpg"
    assert main(["predict", str(relu_run), str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"scratchmlp: error: {missing}: no such image file"


def test_predict_without_images_keeps_the_test_grid(relu_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["predict", str(relu_run), "-n", "6", "--out", str(out)]) == 0
    assert re.search(r"^6 test images, \d predicted right", capsys.readouterr().out)
    assert _is_png(out)


# ---- scratchmlp export --onnx --------------------------------------------------------------

def _check_export(run, data, tmp_path, capsys):
    import onnx
    import onnxruntime as ort

    path = tmp_path / "model.onnx"
    assert main(["export", str(run), "--onnx", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    model, config = load_model(run / "model.npz")
    proto = onnx.load(str(path))
    ops = {node.op_type for node in proto.graph.node}
    activation = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}[config.activation]
    assert ops == {"Flatten", "Gemm", activation, "Softmax"}
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 1, 28, 28]
    assert (proto.ir_version, proto.opset_import[0].version) == (7, 13)  # old runtimes read it

    images = _as_float(data.test_images).reshape(-1, 1, 28, 28)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    exported = session.run(None, {"images": images})[0]
    ours = probabilities(model, images)
    assert exported.shape == ours.shape == (10000, 10)
    assert np.abs(exported - ours).max() < 1e-5
    assert (exported.argmax(axis=1) == ours.argmax(axis=1)).all()
    return model


@pytest.mark.slow
def test_onnx_export_of_the_chapters_relu_model_matches_on_the_test_set(relu_run, data,
                                                                         tmp_path, capsys):
    model = _check_export(relu_run, data, tmp_path, capsys)
    assert model.sizes == [784, 256, 10]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_onnx_export_of_deeper_tanh_and_sigmoid_models(activation, data, tmp_path, capsys):
    """Two hidden layers, trained one epoch on 6,000 images, saved and read back as a run's."""
    config = TrainConfig(hidden=[64, 32], activation=activation, init="xavier", seed=7)
    model = build_model(config)
    batches = DataIter(data.train_images[:6000], data.train_labels[:6000], 32, shuffle=True)
    train_epoch(model, batches, SoftmaxCrossEntropyLoss(), SGD(model.params, 0.5).step)
    run = tmp_path / activation
    run.mkdir()
    save_model(run / "model.npz", model, config)
    exported = _check_export(run, data, tmp_path, capsys)
    assert exported.sizes == [784, 64, 32, 10]
    probs = probabilities(exported, data.test_images)  # it learned: far from uniform
    assert probs.max(axis=1).mean() > 0.4 and np.mean(probs.argmax(1) == data.test_labels) > 0.5


def test_export_check_reports_agreement(relu_run, tmp_path, capsys):
    path = tmp_path / "checked.onnx"
    assert main(["export", str(relu_run), "--onnx", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"on 10000 test images: max \|difference\| of probabilities (\S+), "
                      r"same top class for (\S+)%", out)
    assert found and float(found.group(1)) < 1e-5 and float(found.group(2)) == 100.0


def test_export_without_onnx_says_how_to_install_it(relu_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the package were not installed
    path = tmp_path / "model.onnx"
    assert main(["export", str(relu_run), "--onnx", str(path)]) == 2
    err = capsys.readouterr().err
    assert "ONNX export needs onnx, not installed" in err and "pip install -e '.[onnx]'" in err
    assert not path.exists()


def test_an_unwritable_picture_is_a_clear_error(relu_run, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["evaluate", str(relu_run), "--out", str(blocker / "confusion.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"scratchmlp: error: {blocker / 'confusion.png'}: cannot write")
