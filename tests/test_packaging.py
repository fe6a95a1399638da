"""Packaging (issue 14): recipes found by name, install hints that fit the installation, a
notebook stripper on the standard library alone; and, slow, the wheel installed in a fresh
venv and run from an empty folder, the sdist unpacked with its tests collecting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from reliability_data import (  # noqa: F401  (isolated is an autouse fixture)
    assert_refused, cli, isolated, subprocess_env, write_dataset)
from scratchmlp.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


# ---- recipes by name ---------------------------------------------------------------------------
def test_config_finds_shipped_recipes_by_name_and_files_by_path(tmp_path):
    from argparse import Namespace

    from scratchmlp.cli.train import config_from_flags
    from scratchmlp.recipes import find, names
    assert {"best", "chapter"} <= set(names()) and names("search space") == ["stage1", "stage2",
                                                                            "stage3"]
    assert config_from_flags(Namespace(config="chapter")) == TrainConfig()
    best = config_from_flags(Namespace(config="best", epochs=1))
    assert best.hidden == [2048, 2048] and best.optimizer == "adam" and best.epochs == 1
    assert find("best.json") == find("best")
    mine = tmp_path / "best"  # a file of that name in the current folder wins over the recipe
    mine.write_text(TrainConfig(hidden=[8]).to_json())
    assert config_from_flags(Namespace(config="best")).hidden == [8]


def test_an_unknown_recipe_name_lists_the_recipes(capsys):
    assert_refused(cli(capsys, "train", "--config", "bestest", "--epochs", 1),
                   "bestest: no such config file, nor a recipe of that name; the recipes are "
                   "best, chapter")
    assert_refused(cli(capsys, "train", "--config", "configs/best.json"),
                   "configs/best.json: no such config file")


def test_sweep_space_by_name(capsys, tmp_path):
    from scratchmlp.cli.sweep import _space_source
    from scratchmlp.sweep.space import load_space
    space = load_space(_space_source("stage3"))
    assert space["units"] == [1024, 2048] and space["optimizer"] == ["adam"]
    assert_refused(cli(capsys, "sweep", "--space", "stage9", "--out", tmp_path / "s"),
                   "stage9: no such search space file, nor a recipe of that name; the recipes "
                   "are stage1, stage2, stage3")


# ---- install hints -------------------------------------------------------------------------------
def test_install_hint_in_an_editable_checkout_keeps_it_editable(monkeypatch):
    from importlib.metadata import distribution

    from scratchmlp.cli.common import install_hint
    direct = json.loads(distribution("scratchmlp").read_text("direct_url.json") or "{}")
    if not (direct.get("dir_info") or {}).get("editable"):
        pytest.skip("scratchmlp is not installed editable from a checkout here")
    monkeypatch.chdir(Path(direct["url"].removeprefix("file://")))
    hint = install_hint("sweep", "'optuna>=4.0'")
    assert hint.endswith(" install -e '.[sweep]'") and "scratchmlp[" not in hint, hint


# ---- the notebook stripper needs nothing but Python ---------------------------------------------
def test_strip_notebook_runs_on_the_standard_library_alone(tmp_path):
    notebook = json.loads((ROOT / "notebooks" / "mlp-scratch.ipynb").read_text())
    code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    code["execution_count"] = 4
    code["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["hello\n"]}]
    path = tmp_path / "saved.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    tool = [sys.executable, "-I", "-S", str(ROOT / "tools" / "strip_notebook.py")]  # no site
    check = subprocess.run([*tool, "--check", path], capture_output=True, text=True)
    assert check.returncode == 1 and "outputs in cells" in check.stdout, check.stderr
    assert subprocess.run([*tool, path], capture_output=True).returncode == 0
    stripped = json.loads(path.read_text())
    assert [c["source"] for c in stripped["cells"]] == [c["source"] for c in notebook["cells"]]
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in stripped["cells"] if c["cell_type"] == "code")
    assert path.read_bytes() == (ROOT / "notebooks" / "mlp-scratch.ipynb").read_bytes()


# ---- the built distributions -------------------------------------------------------------------
@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """The sdist and the wheel, built from this checkout as `python -m build` builds them."""
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir",
                           str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return next(out.glob("*.tar.gz")), next(out.glob("*.whl"))


@pytest.mark.slow
def test_the_wheel_works_from_an_empty_folder_in_a_fresh_venv(tmp_path, dists):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([venv / "bin" / "pip", "install", "-q", str(dists[1])],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    empty = tmp_path / "empty"
    empty.mkdir()
    env = subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0")
    del env["PYTHONPATH"]  # the installed copy only, never this checkout's src/
    scratchmlp = [str(venv / "bin" / "scratchmlp")]

    def run(*argv):
        return subprocess.run([*scratchmlp, *map(str, argv)], cwd=empty, env=env,
                              capture_output=True, text=True, timeout=300)

    assert run("--help").returncode == 0
    data = write_dataset(tmp_path / "data")
    trained = run("train", "--config", "chapter", "--subset", 200, "--epochs", 1, "--data-dir",
                  data, "--out", "run", "--no-progress")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert TrainConfig.load(empty / "run" / "config.json") == TrainConfig(subset=200, epochs=1)
    assert (empty / "run" / "model.npz").is_file()
    where = subprocess.run([venv / "bin" / "python", "-c", "import scratchmlp.recipes as r; "
                            "print(r.find('best'))"], cwd=empty, env=env, capture_output=True,
                           text=True)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    no_optuna = run("sweep", "--trials", 1, "--out", "s")
    assert no_optuna.returncode == 2 and "Traceback" not in no_optuna.stderr
    assert f"install '{dists[1]}[sweep]'" in no_optuna.stderr, no_optuna.stderr  # a real command


@pytest.mark.slow
def test_the_sdist_unpacked_collects_its_tests(tmp_path, dists):
    with tarfile.open(dists[0]) as archive:
        archive.extractall(tmp_path, filter="data")
    unpacked = next(tmp_path.glob("scratchmlp-*"))
    for name in ("conftest.py", "gradcheck.py", "reliability_data.py"):
        assert (unpacked / "tests" / name).is_file(), name
    for name in ("recipes/best.json", "recipes/chapter.json", "recipes/sweep/stage1.json"):
        assert (unpacked / "src" / "scratchmlp" / name).is_file(), name
    env = dict(os.environ, PYTHONPATH=str(unpacked / "src"))
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                           "no:cacheprovider"], cwd=unpacked, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    ours = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                           "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert len(collected) == len([line for line in ours.stdout.splitlines() if "::" in line])
    assert all(line.startswith("tests/") for line in collected)
