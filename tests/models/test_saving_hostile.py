"""Hostile model files: a `.keras` archive whose config.json asks for huge
allocations is refused by `groove.models.saving.load` before Keras builds anything,
with a `ConfigError` naming the file (issue 15, model files)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import pytest

from groove.errors import ConfigError
from groove.models import saving
from groove.models.music_transformer.backbone import build_music_transformer
from groove.models.transfer.backbone import build_model
from groove.tokenizers import BeatTokenizer, DurationTokenizer, PerformanceTokenizer

ROOT = Path(__file__).resolve().parents[2]


def spec(tokenizer) -> dict:
    return {"kind": tokenizer.kind, "config": tokenizer.get_config()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """A tiny Music Transformer and a tiny style-transfer model, saved."""
    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    perf, beat = PerformanceTokenizer(), BeatTokenizer()
    lm = build_music_transformer(len(perf), "tiny", tokenizer=spec(perf))
    st = build_model(len(beat), "tiny", tokenizer=spec(beat))
    paths = {"music_transformer": folder / "lm.keras", "transfer": folder / "st.keras"}
    saving.save_for_inference(lm, paths["music_transformer"])
    saving.save_for_inference(st, paths["transfer"])
    return paths


def rewrite(source: Path, target: Path, change) -> Path:
    """A copy of the archive `source` with `change(config)` applied to config.json
    (`change` edits the dict in place, or returns the new bytes)."""
    with zipfile.ZipFile(source) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    config = json.loads(entries["config.json"])
    new = change(config)
    entries["config.json"] = new if isinstance(new, bytes) else json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return target


def sizes(**values):
    def change(config):
        config["config"]["config"].update(values)

    return change


def tokenizer(**values):
    def change(config):
        config["config"]["tokenizer"]["config"].update(values)

    return change


def data(**values):
    def change(config):
        config["config"]["data"].update(values)

    return change


def test_the_tiny_models_and_the_shipped_ones_pass_the_checks(tiny):
    for kind, path in tiny.items():
        model, _ = saving.load(path, kind)
        assert type(model).__name__ == saving.KINDS[kind][2]
    for kind in saving.KINDS:
        saving.check_config(kind, saving.read_config(saving.shipped_path(kind))["config"])


def test_every_preset_passes_and_the_weight_estimate_is_close():
    for preset in ("tiny", "small"):
        for tok, decoder in ((BeatTokenizer(), "gru"), (DurationTokenizer(), "transformer")):
            model = build_model(len(tok), preset, tokenizer=spec(tok), decoder=decoder)
            saving.check_config("transfer", model.get_config())
            estimate, _ = saving._transfer_sizes(model.config, model.data_settings, tok.resolution)
            assert 0.8 < estimate / model.count_params() < 1.25
        perf = PerformanceTokenizer()
        model = build_music_transformer(len(perf), preset, tokenizer=spec(perf))
        saving.check_config("music_transformer", model.get_config())
        assert 0.8 < saving._lm_sizes(model.config)[0] / model.count_params() < 1.25


HOSTILE = {
    # kind, change, words of the message
    "a vocabulary of a billion": ("music_transformer", sizes(vocab_size=10**9), "vocab_size"),
    # 10**8 TIME_SHIFT strings: the 5.2 GB vocabulary
    "a tokenizer of 10**8 shifts": (
        "music_transformer",
        tokenizer(max_shift_steps=10**8),
        "max_shift_steps",
    ),
    "settings that multiply": (
        "transfer",
        tokenizer(resolution=4096, max_shift_beats=64),
        "multiply",
    ),
    "frames_per_beat of 10**9": ("transfer", data(frames_per_beat=10**9), "frames_per_beat"),
    "a context of a million": ("music_transformer", sizes(context=10**6), "context"),
    "wide and deep layers": (
        "music_transformer",
        sizes(num_layers=64, hidden_dim=8192, ff_dim=8192, num_heads=8),
        "weights",
    ),
    "a wide GRU": ("transfer", sizes(decoder_units=8192, content_units=8192), "weights"),
    "a long cache": (
        "music_transformer",
        sizes(num_layers=16, context=8192, hidden_dim=1024, ff_dim=1024, num_heads=8),
        "cache",
    ),
    "a size as text": ("music_transformer", sizes(num_layers="4"), "num_layers"),
    "a float size": ("transfer", sizes(content_units=1e9), "content_units"),
    "a million styles": ("transfer", sizes(styles=10**9), "styles"),
    "a huge miditok beat range": (
        "music_transformer",
        lambda c: c["config"].update(
            tokenizer={
                "kind": "miditok",
                "config": {
                    "tokenization": "MIDILike",
                    "config": {"beat_res": [[0, 60_000, 96]]},
                },
            }
        ),
        "beat_res spans 5760000 steps",
    ),
    "an unknown setting": ("transfer", sizes(frames=4), "frames"),
    "no config": ("music_transformer", lambda c: c.update(config=None), "missing"),
    "a 2 MB config": (
        "music_transformer",
        lambda c: json.dumps({**c, "padding": "x" * (2 << 20)}).encode(),
        "larger than",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_config_is_refused_before_anything_is_built(case, tiny, tmp_path):
    kind, change, words = HOSTILE[case]
    path = rewrite(tiny[kind], tmp_path / "hostile.keras", change)
    with pytest.raises(ConfigError) as info:
        saving.load(path, kind)
    assert str(info.value).startswith(f"{path}: ")
    assert words in str(info.value)


def test_the_other_kind_of_model_is_named(tiny):
    with pytest.raises(ConfigError, match="not a groove style-transfer model; it holds a Music"):
        saving.load(tiny["music_transformer"], "transfer")
    with pytest.raises(ConfigError, match="not a groove Music Transformer; it holds a style"):
        saving.load(tiny["transfer"], "music_transformer")


def test_a_file_that_is_no_archive_is_named(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ConfigError, match=r"not a \.keras archive"):
        saving.load(path, "music_transformer")


def test_generate_with_a_hostile_model_exits_2_with_one_line(tiny, tmp_path):
    path = rewrite(tiny["music_transformer"], tmp_path / "big.keras", sizes(vocab_size=10**9))
    out = tmp_path / "out.mid"
    result = subprocess.run(
        [sys.executable, "-m", "groove", "generate", "--model", str(path), "-o", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr
    assert not out.exists()


def test_save_for_inference_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    """The save goes through a private temporary beside the target: a second save
    replaces the first whole, and no temporary (nor the old fixed `NAME.tmp.keras`,
    which two saves at once would share) is left in the folder."""
    keras.utils.set_random_seed(0)
    perf = PerformanceTokenizer()
    target = tmp_path / "lm.keras"
    (tmp_path / "lm.tmp.keras").write_bytes(b"someone else's file")
    first = build_music_transformer(len(perf), "tiny", tokenizer=spec(perf))
    saving.save_for_inference(first, target)
    second = build_music_transformer(len(perf), "tiny", tokenizer=spec(perf))
    saving.save_for_inference(second, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm.keras", "lm.tmp.keras"]
    assert (tmp_path / "lm.tmp.keras").read_bytes() == b"someone else's file"
    model, _ = saving.load(target, "music_transformer")
    for got, want in zip(model.get_weights(), second.get_weights()):
        assert (got == want).all()
