"""The synthetic corpus: splits, byte-for-byte rebuilds, resuming, and the CLI."""

import json
import shutil

import pytest

from groove.cli import main
from groove.data.corpus import build_corpus, plan_corpus
from groove.data.styles import Style
from groove.midi import load


@pytest.fixture(scope="module")
def plan():
    return plan_corpus(40, 30, seed=7, styles_per_chart=3, shard_size=8)


def test_splits_keep_styles_and_charts_disjoint(plan):
    style_split = {s["index"]: s["split"] for s in plan["styles"]}
    chart_split = {c["index"]: c["split"] for c in plan["charts"]}
    for item in plan["items"]:
        if item["split"] == "itest":  # test charts in training styles
            assert chart_split[item["chart"]] == "test" and style_split[item["style"]] == "train"
        else:
            assert chart_split[item["chart"]] == item["split"] == style_split[item["style"]]
    splits = {item["split"] for item in plan["items"]}
    assert splits == {"train", "val", "test", "itest"}


def test_each_chart_is_played_in_several_styles_of_its_meter(plan):
    meters = {s["index"]: s["meter"] for s in plan["styles"]}
    charts = {c["index"]: c for c in plan["charts"]}
    per_chart = {}
    for item in plan["items"]:
        assert meters[item["style"]] == charts[item["chart"]]["meter"]
        per_chart.setdefault((item["chart"], item["split"]), set()).add(item["style"])
    assert sum(len(v) >= 2 for v in per_chart.values()) > 0.8 * len(per_chart)


def test_the_plan_is_a_function_of_its_seed(plan):
    assert plan_corpus(40, 30, seed=7, styles_per_chart=3, shard_size=8) == plan
    assert plan_corpus(40, 30, seed=8, styles_per_chart=3, shard_size=8) != plan
    for s in plan["styles"][:5]:
        assert Style.random(s["seed"]).name == s["name"]


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.mid")}


def test_build_rebuilds_byte_for_byte_and_resumes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    manifest = build_corpus(a, 12, 10, seed=3, styles_per_chart=2, shard_size=4, progress=False)
    build_corpus(b, 12, 10, seed=3, styles_per_chart=2, shard_size=4, workers=2, progress=False)
    assert files(a) == files(b) and len(files(a)) == len(manifest["items"])
    assert json.loads((a / "manifest.json").read_text()) == manifest
    # A run killed mid-shard leaves a .part folder and misses the shard; resume.
    first = manifest["items"][0]["shard"]
    shutil.rmtree(a / first)
    (a / (first + ".part")).mkdir()
    (a / (first + ".part") / "half.mid").write_bytes(b"MThd")
    build_corpus(a, 12, 10, seed=3, styles_per_chart=2, shard_size=4, progress=False)
    assert files(a) == files(b)
    assert not list(a.rglob("*.part"))
    score = load(a / manifest["items"][0]["file"])
    assert len(score.notes) > 0
    assert {t.name for t in score.tracks} <= {"Bass", "Piano", "Guitar", "Strings", "Drums"}


def test_cli_synth_and_refusing_a_different_plan(tmp_path, capsys):
    out = tmp_path / "c"
    argv = ["data", "synth", "--styles", "10", "--charts", "6", "--out", str(out), "-q"]
    assert main([*argv, "--workers", "1"]) == 0
    assert "files in" in capsys.readouterr().out
    assert main(["data", "synth", "--styles", "11", "--charts", "6", "--out", str(out)]) == 2
    assert "choose another folder" in capsys.readouterr().err
