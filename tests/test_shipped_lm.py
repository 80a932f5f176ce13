"""The Music Transformer shipped inside the package: `groove generate` offline out of
the box, its recorded provenance, and music that is recognisably chorale-like."""

from __future__ import annotations

import json

import numpy as np
import pretty_midi
import pytest

import groove
from groove import midi
from groove.cli import main
from groove.eval.descriptive import descriptive_metrics
from groove.eval.likelihood import token_nll
from groove.models import saving

WEIGHTS = saving.shipped_path("music_transformer").parent


@pytest.fixture(scope="module")
def lm():
    return saving.load(None, "music_transformer")


def test_the_shipped_model_is_small_and_its_rebuild_is_recorded():
    assert saving.shipped_path("music_transformer").stat().st_size <= 30 * 2**20
    notes = (WEIGHTS / "README.md").read_text()
    for must in ("groove train lm", "music_transformer.toml", "groove data corpus", "seed"):
        assert must in notes
    log = json.loads((WEIGHTS / "music_transformer_log.json").read_text())
    assert log["settings"]["train"]["seed"] == 0 and log["history"]
    assert np.isfinite(log["test_nll"]) and log["best_val_loss"] == min(
        row["val_loss"] for row in log["history"]
    )


def test_generate_offline_writes_valid_midi_and_an_audible_wav(tmp_path, capsys):
    from scipy.io import wavfile

    out = tmp_path / "x.mid"
    assert main(["generate", "-o", str(out), "--seconds", "20", "--seed", "0", "--render"]) == 0
    assert "wrote" in capsys.readouterr().err
    pm = pretty_midi.PrettyMIDI(str(out))  # a reader other than ours
    notes = [n for i in pm.instruments for n in i.notes]
    assert len(notes) > 20
    assert max(n.end for n in notes) <= 20.0 + 1e-6
    assert all(n.end > n.start and 0 <= n.pitch <= 127 for n in notes)
    _, audio = wavfile.read(tmp_path / "x.wav")
    audio = audio / np.iinfo(audio.dtype).max if audio.dtype.kind == "i" else audio
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 0.01


def test_it_scores_held_out_chorales_far_better_than_chance(lm):
    model, tokenizer = lm
    log = json.loads((WEIGHTS / "music_transformer_log.json").read_text())
    # A chorale the model never trained on (the corpus's test split), as the model
    # saw its training data: BOS, the tokens, EOS.
    name = log["data"]["files"]["test"][0]
    from groove.data.lm import _pieces

    (_, source), *_ = _pieces(name)
    ids = tokenizer.encode(tokenizer.prepare(source))[: model.config.context - 1]
    ids = np.concatenate([[tokenizer.bos_id], ids])
    nll = token_nll(model, ids)
    assert nll < 0.5 * np.log(tokenizer.vocab_size)  # chance is ln(391) = 5.97 nats


def test_its_music_sounds_like_four_voice_chorales(lm):
    pms = groove.generate(model=lm, seconds=20, num_samples=4, seed=1)
    metrics = [descriptive_metrics(midi.load(pm)) for pm in pms]
    # Bach chorales are diatonic and in four parts: the corpus's test split measures
    # a scale consistency of 0.92 +- 0.04 and a polyphony of 3.9 +- 0.2; uniformly
    # random pitch classes score about 0.64.
    assert np.mean([m["scale_consistency"] for m in metrics]) > 0.85
    assert 3.0 <= np.mean([m["polyphony"] for m in metrics]) <= 5.0


def test_it_continues_the_bundled_chorale(lm, tmp_path):
    primer = groove.example_path("chorale.mid")
    [out] = groove.generate(primer, model=lm, seconds=8, seed=0)
    tokenizer = lm[1]
    heard = tokenizer.decode(tokenizer.encode(tokenizer.prepare(primer)))
    end = heard.get_end_time()
    ours = sorted((n.start, n.pitch) for i in out.instruments for n in i.notes)
    theirs = sorted((n.start, n.pitch) for i in heard.instruments for n in i.notes)
    assert ours[: len(theirs)] == theirs  # the primer first, unchanged
    assert len(ours) > len(theirs) and out.get_end_time() <= end + 8.0 + 1e-6
