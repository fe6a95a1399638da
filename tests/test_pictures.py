"""The pictures say what they show: labelled axes, titles, whole-number epochs, no value where
there is none. Each check reads the matplotlib figure back before it is saved."""

from __future__ import annotations

import pytest

from scratchmlp.report._mpl import pyplot

NAN = float("nan")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    pyplot().close("all")


def rows(n, test=True, val=False):
    out = []
    for e in range(1, n + 1):
        row = {"epoch": e, "train_loss": 0.6 / e, "train_acc": 0.8 + 0.01 * e,
               "test_acc": 0.78 + 0.01 * e if test else NAN, "seconds": 1.0}
        if val:
            row["val_acc"] = 0.79 + 0.01 * e
        out.append(row)
    return out


def legend(ax) -> dict:
    """legend label -> its handle."""
    leg = ax.get_legend()
    return {text.get_text(): handle for text, handle in zip(leg.get_texts(), leg.legend_handles)}


def test_a_one_epoch_run_has_whole_number_ticks_and_unclipped_points():
    from scratchmlp.report.curves import draw_curves
    ax = draw_curves(rows(1), "MLP 784-256-10, sgd lr 0.5").axes[0]
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks == [1]
    low, high = ax.get_xlim()
    assert low <= 0.6 and high >= 1.4  # the points at epoch 1 sit well inside the frame
    assert ax.get_xlabel() == "epoch" and "accuracy" in ax.get_ylabel()
    assert "sgd lr 0.5" in ax.get_title()
    for label in ("train loss", "train acc", "test acc"):  # lone points drawn as markers
        assert legend(ax)[label].get_marker() == "o"


def test_many_epochs_get_integer_ticks():
    from scratchmlp.report.curves import draw_curves
    ax = draw_curves(rows(30), "t").axes[0]
    assert all(float(t).is_integer() for t in ax.get_xticks())
    assert ax.get_xlim()[0] < 1 and ax.get_xlim()[1] > 30


def test_validation_accuracy_is_plotted_when_the_run_has_it():
    from scratchmlp.report.curves import draw_curves
    ax = draw_curves(rows(3, val=True), "t").axes[0]
    assert "validation acc" in legend(ax)
    assert "validation acc" not in legend(draw_curves(rows(3), "t").axes[0])


def test_a_test_accuracy_scored_once_is_a_marker_in_the_legend_too():
    from scratchmlp.report.curves import draw_curves
    data = rows(5, test=False)
    data[-1]["test_acc"] = 0.91
    ax = draw_curves(data, "best").axes[0]
    handle = legend(ax)["test acc (one score)"]
    assert handle.get_linestyle() == "None" and handle.get_marker() == "o"
    line = next(l for l in ax.get_lines() if l.get_label() == "test acc (one score)")
    assert list(line.get_xdata()) == [5] and ax.get_xlim()[1] > 5.3


def explore_rows():
    ok = lambda x, loss: {"x": x, "status": "ok", "val_acc": 0.86, "test_acc": 0.85,
                          "train_acc": 0.88, "train_loss": loss}
    return [ok(0.1, 0.39), ok(0.3, 0.33),
            {"x": 10.0, "status": "diverged", "val_acc": NAN, "test_acc": NAN,
             "train_acc": NAN, "train_loss": NAN}]


def test_explore_marks_a_diverged_point_across_the_panel_not_at_a_value():
    from scratchmlp.report.explore import draw_exploration
    fig = draw_exploration(explore_rows(), "learning rate", "log", title="lr: sgd",
                           xticks=[0.1, 0.3, 10.0])
    acc_ax, loss_ax = fig.axes
    for ax in (acc_ax, loss_ax):
        assert ax.get_xlabel() == "learning rate" and ax.get_ylabel()
        at_ten = [l for l in ax.get_lines() if 10.0 in list(l.get_xdata())]
        assert at_ten, "the diverged point is not drawn"
        for line in at_ten:  # spans the panel in axes coordinates: no y value to misread
            assert list(line.get_ydata()) == [0, 1]
            assert line.get_transform() == ax.get_xaxis_transform()
        assert any("diverged" in t for t in legend(ax))
    assert fig._suptitle.get_text() == "lr: sgd"


def test_sweep_history_keeps_trials_without_a_score_apart():
    from scratchmlp.report.sweep import draw_history
    points = [(0, 0.85, "complete"), (1, 0.87, "complete"), (2, None, "pruned"),
              (3, None, "fail"), (4, 0.86, "complete")]
    fig = draw_history(points, "stage 2")
    scores, strip = fig.axes
    assert scores.get_ylabel() == "validation accuracy" and strip.get_xlabel() == "trial"
    for line in scores.get_lines():  # only real scores on the accuracy axis
        assert set(line.get_xdata()) <= {0, 1, 4}
    labels = [t.get_text() for t in strip.get_yticklabels()]
    assert labels == ["fail (no score)", "pruned (no score)"]
    assert "5 trials: 3 complete, 1 fail, 1 pruned" in scores.get_title()
    assert len(draw_history(points[:2]).axes) == 1  # no strip when every trial has a score


@pytest.mark.parametrize("trials, warned", [(5, True), (12, False)])
def test_importances_name_the_trial_count_and_warn_when_few(trials, warned):
    from scratchmlp.report.sweep import draw_importances
    ax = draw_importances({"lr": 0.6, "dropout": 0.4}, trials).axes[0]
    assert f"over {trials} complete trials" in ax.get_title()
    assert ("caution" in ax.get_title()) == warned
    assert ax.get_xlabel() and ax.get_ylabel() == "parameter"


def test_saved_pictures_are_pngs(tmp_path):
    from scratchmlp.report.curves import plot_curves
    from scratchmlp.report.sweep import plot_history
    for path in (plot_curves(rows(2), tmp_path / "c.png", "t"),
                 plot_history([(0, None, "fail")], tmp_path / "h.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_sweep_computes_the_importance_its_picture_names():
    """PED-ANOVA, named in the title, chosen explicitly: Optuna's default was fANOVA (which
    needs scikit-learn) up to 4.x, so an unnamed default drew one under the other's name."""
    optuna = pytest.importorskip("optuna")
    from scratchmlp.report.sweep import draw_importances
    from scratchmlp.sweep.export import importances
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(lambda t: t.suggest_float("lr", 0, 1) + 0 * t.suggest_int("layers", 1, 3),
                   n_trials=6)
    weights = importances(study)
    assert set(weights) == {"lr", "layers"} and weights["lr"] > weights["layers"]
    assert weights == optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    assert "PED-ANOVA" in draw_importances(weights, 6).axes[0].get_title()


def test_a_long_title_stays_inside_the_figure():
    from scratchmlp.report.curves import draw_curves
    title = ("recipe best: 784-2048-2048-10 relu, adam lr 0.000571 cosine, batch 128, "
             "dropout 0.21; test scored once, at epoch 30")
    fig = draw_curves(rows(30), title)
    fig.tight_layout()
    fig.canvas.draw()
    box = fig.axes[0].title.get_window_extent()
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height
