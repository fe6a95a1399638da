"""Sweep pictures: the optimisation history and the parameters' importances (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from ._mpl import pyplot, save_figure


NO_SCORE_MARKS = {"pruned": ("v", "tab:gray"), "fail": ("x", "tab:orange"),
                  "diverged": ("x", "black"), "running": ("|", "tab:green"),
                  "waiting": ("|", "tab:green")}


def draw_history(points, title: str = None):
    """`points` = (trial number, value or None, state). Scored trials as dots and the best so
    far as a line, on the validation accuracy axis; trials without a score (pruned, failed,
    running) in a separate strip below, one row per state, so none reads as a value."""
    plt = pyplot()
    others = [(n, s) for n, v, s in points if v is None]
    states = sorted({s for _, s in others})
    if states:
        fig, (ax, strip) = plt.subplots(2, 1, sharex=True, figsize=(6, 4.2 + 0.2 * len(states)),
                                        gridspec_kw={"height_ratios": [4, 0.5 + 0.35 * len(states)]})
    else:
        fig, ax = plt.subplots(figsize=(6, 3.8))
        strip = None
    _draw_scores(ax, [(n, v) for n, v, _ in points if v is not None])
    if strip is not None:
        _draw_no_score(strip, others, states)
    (strip or ax).set_xlabel("trial")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    counts = ", ".join(f"{sum(1 for _, v, s in points if s == state)} {state}"
                       for state in sorted({s for _, _, s in points}))
    heading = f"{len(points)} trials: {counts}"
    ax.set_title(f"{title}\n{heading}" if title else heading, fontsize=9)
    return fig


def _draw_scores(ax, done: list):
    if done:
        numbers, values = zip(*done)
        ax.plot(numbers, values, "o", color="tab:blue", ms=4, ls="none", label="scored trial")
        best, line = float("-inf"), []
        for n, v in sorted(done):
            best = max(best, v)
            line.append((n, best))
        ax.step(*zip(*line), where="post", color="tab:red", label="best so far")
        ax.legend(fontsize=7, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no scored trial yet", transform=ax.transAxes, ha="center")
    ax.set_ylabel("validation accuracy")
    ax.grid(True, alpha=0.4)


def _draw_no_score(strip, others: list, states: list):
    for row, state in enumerate(states):
        xs = [n for n, s in others if s == state]
        marker, color = NO_SCORE_MARKS.get(state, (".", "gray"))
        strip.plot(xs, [row] * len(xs), marker, color=color, ms=6, ls="none")
    strip.set_yticks(range(len(states)), [f"{s} (no score)" for s in states], fontsize=7)
    strip.set_ylim(-0.7, len(states) - 0.3)
    strip.grid(True, axis="x", alpha=0.4)


def plot_history(points, path, title: str = None):
    """draw_history, saved to `path` (atomically)."""
    return _save(draw_history(points, title), path)


IMPORTANCE_CAUTION = 10  # fewer complete trials than this: the ranking is a rough guide


def draw_importances(weights: dict, trials: int = None,
                     title: str = "parameter importance (PED-ANOVA)"):
    """Horizontal bars, most important on top; the title says over how many complete trials,
    and warns when they are fewer than IMPORTANCE_CAUTION."""
    plt = pyplot()
    names = list(weights)[::-1]  # most important on top
    fig, ax = plt.subplots(figsize=(5.5, 0.35 * len(names) + 1.6))
    ax.barh(names, [weights[n] for n in names], color="tab:blue")
    for y, name in enumerate(names):
        ax.text(weights[name], y, f" {weights[name]:.2f}", va="center", fontsize=7)
    ax.set_xlabel("importance for reaching the best trials' validation accuracy (sums to 1)",
                  fontsize=8)
    ax.set_ylabel("parameter")
    ax.set_xlim(0, max(weights.values()) * 1.2 if weights else 1)
    if trials is not None:
        title += f" over {trials} complete trial{'s' if trials != 1 else ''}"
        if trials < IMPORTANCE_CAUTION:
            title += f"\ncaution: under {IMPORTANCE_CAUTION} trials, a rough guide at best"
    ax.set_title(title, fontsize=9, color="black")
    if trials is not None and trials < IMPORTANCE_CAUTION:
        ax.title.set_color("firebrick")
    return fig


def plot_importances(weights: dict, path, title: str = "parameter importance (PED-ANOVA)",
                     trials: int = None):
    """draw_importances, saved to `path` (atomically)."""
    return _save(draw_importances(weights, trials, title), path)


def _save(fig, path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    pyplot().close(fig)
    return Path(path)
