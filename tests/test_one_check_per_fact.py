"""One check per fact (issue 13): each setting's range is stated once (scratchmlp.ranges) and
every caller meets the same rule and message; absurd sizes are refused before any allocation;
one relu, fused by an explicit choice; one statement of a model's weight shapes."""

from __future__ import annotations

import numpy as np
import pytest

from scratchmlp import npx, ranges
from scratchmlp.engine import Array, ops
from scratchmlp.nn import MLP, activations, dropout, optim
from scratchmlp.nn.model import check_weights, parameter_count, weight_shapes
from scratchmlp.sweep.space import load_space
from scratchmlp.train.config import TrainConfig


def _refusal(call) -> ranges.SettingError:
    with pytest.raises(ranges.SettingError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("name, bad", [
    ("lr", 0), ("lr", -1.5), ("lr", float("nan")), ("lr", "fast"), ("epochs", -1),
    ("epochs", 2.5), ("batch_size", 0), ("batch_size", True), ("seed", -1),
    ("momentum", 1.0), ("momentum", -0.1), ("weight_decay", -1e-4), ("weight_decay", float("inf")),
    ("dropout", 1), ("dropout", -0.5), ("validation", -1), ("subset", 0), ("threads", 0),
])
def test_trainconfig_refuses_each_range_with_the_facts(name, bad):
    error = _refusal(lambda: TrainConfig(**{name: bad}))
    assert (error.name, error.expected) == (name, ranges.RANGES[name].words)
    assert str(error) == f"{name} must be {ranges.RANGES[name].words}, got {bad!r}"


@pytest.mark.parametrize("name, good", [
    ("lr", 1e-9), ("lr", 3), ("epochs", 0), ("seed", 0), ("momentum", 0.0),
    ("momentum", 0.999), ("weight_decay", 0), ("dropout", 0.0), ("validation", 0),
    ("subset", 1), ("batch_size", np.int64(64)),
])
def test_the_edges_of_each_range_are_accepted(name, good):
    assert getattr(TrainConfig(**{name: good}), name) == good


def test_the_optimisers_dropout_and_the_model_meet_the_same_rule():
    params = [Array(np.zeros((2, 2), np.float32))]
    for call, name in [(lambda: optim.Momentum(params, 0.1, momentum=1.0), "momentum"),
                       (lambda: optim.SGD(params, 0.1, weight_decay=-1), "weight_decay"),
                       (lambda: optim.build("adam", params, 0.1, weight_decay=-1), "weight_decay"),
                       (lambda: dropout.check_rate(1), "dropout"),
                       (lambda: MLP(4, [3], 2, dropout=1.5), "dropout"),
                       (lambda: MLP(4, [0], 2), "width")]:
        error = _refusal(call)
        assert error.name == name and error.expected == ranges.RANGES[name].words


def test_a_search_space_meets_the_settings_ranges(tmp_path):
    path = tmp_path / "space.json"
    for text, message in [('{"momentum": {"low": 0.5, "high": 1.0}}',
                           r"momentum must be a number in \[0, 1\), got 1.0"),
                          ('{"units": {"low": 0, "high": 8, "int": true}}',
                           "units must be a positive whole number, got 0"),
                          ('{"epochs": {"low": 1.5, "high": 8, "int": true}}',
                           "epochs must be a whole number from 0 to 100000, got 1.5")]:
        path.write_text(text)
        with pytest.raises(ranges.ScratchMLPError, match=message):
            load_space(path)


@pytest.mark.parametrize("hidden, shown", [
    ([10 ** 19], "hidden [10000000000000000000]: a model of 7,950,000,000,000,000,000,010 "
                 "parameters does not fit in memory"),
    ([int("9" * 4000)], "hidden [a number of 4,000 digits]: a model of about 10^4002 "
                        "parameters does not fit in memory"),
    ([int("9" * 4000)] * 2, "a model of about 10^8000 parameters"),
    ([256, 10 ** 12], "hidden [256, 1000000000000]: a model of"),
])
def test_absurd_sizes_are_one_line_before_any_allocation(hidden, shown):
    error = _refusal(lambda: TrainConfig(hidden=hidden))
    message = str(error)
    assert shown in message and "\n" not in message and len(message) < 400
    assert message.endswith("choose smaller hidden layer widths")


def test_a_model_that_fits_is_accepted_however_wide():
    # 100,000 units: 80 million parameters, 640 MB to train; the check allocates nothing
    assert TrainConfig(hidden=[100_000]).sizes == [784, 100_000, 10]


def test_digits_and_shown_never_print_a_huge_number():
    for number in (0, 9, 10, 10 ** 15 - 1, 10 ** 15, 10 ** 30, 7 * 10 ** 3999):
        assert ranges.digits(number) == len(str(number))
    assert ranges.digits(10 ** 9000) == 9001  # more digits than Python will print
    assert ranges.shown(10 ** 9000) == "a number of 9,001 digits"
    assert ranges.shown(list(range(100))) == "[0, 1, ... 100 values]"


# ---- one relu, fused by an explicit choice ------------------------------------------------
def test_one_relu():
    assert activations.get("relu") is ops.relu and npx.relu is ops.relu


def test_fusion_is_chosen_by_name_and_equals_the_unfused_layers():
    X = np.random.default_rng(0).standard_normal((5, 6))
    fused = MLP(6, [4, 3], 2, activation="relu", seed=1, dtype=np.float64)
    plain = MLP(6, [4, 3], 2, activation="relu", seed=1, dtype=np.float64)
    plain.fuse_relu = False  # relu applied after a plain linear
    assert fused.fuse_relu and not MLP(6, [4], 2, activation="tanh").fuse_relu
    np.testing.assert_allclose(fused(Array(X)).data, plain(Array(X)).data, rtol=1e-12)


# ---- one statement of a model's weight shapes ---------------------------------------------
def test_weight_shapes_are_what_the_mlp_holds():
    model = MLP(784, [16, 8], 10)
    shapes = weight_shapes(model.sizes)
    assert list(shapes) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert {n: a.shape for n, a in model.state_dict().items()} == shapes
    assert parameter_count(model.sizes) == sum(a.size for a in model.state_dict().values())


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("b2"), r"missing \['b2'\]"),
    (lambda a: a.update(W3=np.zeros((2, 2))), r"unexpected \['W3'\]"),
    (lambda a: a.update(W1=np.zeros((4, 2))), r"W1 has shape \(4, 2\), the configuration needs"),
    (lambda a: a.update(b1=np.zeros(3, np.int32)), "b1 is int32, not floating point"),
    (lambda a: a.update(W2=np.full((3, 2), np.nan)), "W2 holds NaN"),
])
def test_check_weights_refuses_what_does_not_fit(change, message):
    arrays = {n: np.zeros(s) for n, s in weight_shapes([4, 3, 2]).items()}
    check_weights(arrays, [4, 3, 2])
    change(arrays)
    with pytest.raises(ranges.ScratchMLPError, match=message):
        check_weights(arrays, [4, 3, 2], "model.npz")


# ---- one CSV writer, one table formatter ----------------------------------------------------
def test_write_csv_formats_floats_leaves_out_extra_keys_and_writes_none_empty(tmp_path):
    from scratchmlp.files import write_csv
    rows = [{"epoch": 1, "loss": 0.5, "note": None, "extra": "x"}, {"epoch": 2, "loss": 1 / 3}]
    write_csv(tmp_path / "a.csv", ["epoch", "loss", "note"], rows)
    assert (tmp_path / "a.csv").read_text() == "epoch,loss,note\n1,0.500000,\n2,0.333333,\n"
    write_csv(tmp_path / "b.csv", ["loss"], rows, float_format=None)
    assert (tmp_path / "b.csv").read_text() == f"loss\n0.5\n{1 / 3!r}\n"


def test_text_table_aligns_columns_and_lets_a_short_row_run_on():
    from scratchmlp.report.table import text_table
    table = text_table(["name", "n", "state"], [["a", "1000", "ok"], ["bb", "7", "ok"],
                                                 ["c", "unreadable: a long message"]],
                       align="<><")
    assert table.splitlines() == ["name     n  state",
                                  "a     1000  ok",
                                  "bb       7  ok",
                                  "c     unreadable: a long message"]


# ---- argparse only parses: the ranges come from scratchmlp.ranges, cli names the flag -------
@pytest.mark.parametrize("argv, line", [
    (["train", "--lr", "-1"], "argument --lr: expected a positive number, got -1.0"),
    (["train", "--momentum", "1"], "argument --momentum: expected a number in [0, 1), got 1.0"),
    (["train", "--hidden", "0"], "argument --hidden: expected a list of positive whole numbers"),
    (["explore", "depth", "--width", "0"], "argument --width: expected a positive whole number"),
    (["explore", "hidden", "--widths", "8,0"],
     "argument --widths: expected a positive whole number, got 0"),
    (["explore", "lr", "--lrs", "0.1,-1"], "argument --lrs: expected a positive number, got -1.0"),
    (["explore", "depth", "--depths", "0"], "argument --depths: expected whole numbers 1 or more"),
])
def test_flags_are_refused_with_the_ranges_facts_and_the_flags_name(capsys, tmp_path, argv,
                                                                     line):
    from scratchmlp.cli import main
    code = main([*argv, "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"scratchmlp: error: {line}"), err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()
