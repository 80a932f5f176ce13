"""Corpus options: new corpora mix kinds of style, carry melodies and render clean takes;
old corpora rebuild as they were."""

from __future__ import annotations

import json

import numpy as np
import pytest

from groove.data.corpus import (
    CORPUS_OPTIONS,
    LEGACY_OPTIONS,
    build_corpus,
    corpus_options,
    corpus_style,
    pattern_signature,
    plan_corpus,
    render_item,
)
from groove.data.melody import MELODY_TRACK
from groove.data.styles import Style, check_mix
from groove.errors import ConfigError
from groove.midi import load


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("new")
    return out, build_corpus(out, 10, 6, seed=2, styles_per_chart=2, progress=False)


def test_a_new_corpus_records_its_options_and_its_files_are_clean_takes(built):
    out, manifest = built
    assert json.loads((out / "manifest.json").read_text()) == manifest
    config = manifest["config"]
    assert config["style_mix"] == check_mix(CORPUS_OPTIONS["style_mix"])
    assert (config["melody"], config["humanise"]) == (0.7, False)
    assert corpus_options(manifest) == {k: config[k] for k in LEGACY_OPTIONS}
    for item in manifest["items"]:
        score = load(out / item["file"])
        style = corpus_style(manifest, item["style"])
        names = [t.name for t in score.tracks]
        assert (MELODY_TRACK in names) == manifest["styles"][item["style"]]["melody"]
        # The file is the clean take: the same notes render_item makes, no jitter.
        clean = render_item(manifest, item)
        assert np.array_equal(score.notes, clean.notes)
        jittered = render_item({**manifest, "config": {**config, "humanise": True}}, item)
        if style.humanize_time > 0:
            assert not np.array_equal(jittered.notes["start"], clean.notes["start"])
    assert any(s["melody"] for s in manifest["styles"])


def test_no_held_out_style_plays_what_a_training_style_plays():
    # Archetype styles alone repeat one another now and then (5 of these 600 do)...
    legacy = plan_corpus(600, 10, seed=1)
    alike = {pattern_signature(corpus_style(legacy, s["index"])) for s in legacy["styles"]}
    assert len(alike) < 600
    # ...so a new corpus draws such a style again, and every style plays its own patterns.
    for mix in ({"archetype": 1.0}, CORPUS_OPTIONS["style_mix"]):
        plan = plan_corpus(600, 10, seed=1, style_mix=mix, melody=0.7, humanise=False)
        signatures = {pattern_signature(corpus_style(plan, s["index"])) for s in plan["styles"]}
        assert len(signatures) == 600
        splits = {s["split"] for s in plan["styles"]}
        assert splits == {"train", "val", "test"}


def test_an_old_corpus_resumes_with_the_legacy_options_and_refuses_new_ones(tmp_path):
    out = tmp_path / "old"
    old = build_corpus(out, 6, 4, seed=5, styles_per_chart=2, progress=False, **LEGACY_OPTIONS)
    # Written as every corpus was before the options: no option keys, version 1.
    assert old == plan_corpus(6, 4, seed=5, styles_per_chart=2)
    assert "melody" not in old["config"] and old["version"] == 1
    assert corpus_options(old) == LEGACY_OPTIONS
    item = old["items"][0]
    style = Style.random(old["styles"][item["style"]]["seed"])
    assert corpus_style(old, item["style"]) == style and style.melody is None
    first = (out / item["file"]).read_bytes()
    (out / item["file"]).parent.rename(out / "gone")  # lose a shard, then resume
    build_corpus(out, 6, 4, seed=5, styles_per_chart=2, progress=False, **LEGACY_OPTIONS)
    assert (out / item["file"]).read_bytes() == first
    with pytest.raises(ConfigError, match="choose another folder"):
        build_corpus(out, 6, 4, seed=5, styles_per_chart=2, progress=False)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="melody"):
        plan_corpus(4, 4, melody=1.5)
    with pytest.raises(ConfigError, match="style kind"):
        plan_corpus(4, 4, style_mix={"jazz": 1})
