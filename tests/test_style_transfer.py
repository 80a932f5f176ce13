"""`groove.transfer` and `groove transfer`: whole songs, batched constrained decoding, errors.

The model here is a tiny untrained one: these tests check the machinery users rely
on (valid MIDI whatever the weights, seeds, bar grid, roles, errors), not quality.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import groove  # noqa: E402
from groove import midi  # noqa: E402
from groove.cli import main  # noqa: E402
from groove.data import Style, random_chart, render_score  # noqa: E402
from groove.data.segments import segments  # noqa: E402
from groove.errors import ConfigError, GrooveWarning, MidiError  # noqa: E402
from groove.midi import TIME_SIGNATURE_DTYPE  # noqa: E402
from groove.models.sampling import (  # noqa: E402
    GreedySampler,
    TopKSampler,
    TopPSampler,
    make_sampler,
    masked,
)
from groove.models.transfer import build_model  # noqa: E402
from groove.models.transfer.task import generate_ids, transfer_score  # noqa: E402
from groove.tokenizers import BeatTokenizer  # noqa: E402
from groove.tokenizers.grammar import EventGrammar  # noqa: E402
from tests.conftest import SHARED_MIDI  # noqa: E402

TOK = BeatTokenizer()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_model(
        TOK.vocab_size, "tiny",
        tokenizer={"kind": TOK.kind, "config": TOK.get_config()},
        data={"bars": 4, "max_tokens": 120, "style_tokens": 256},
    )  # fmt: skip
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def model(model_path):
    return keras.saving.load_model(model_path)


def song(seed=1, bars=10, meter="4/4", style=3):
    return render_score(
        random_chart(seed, bars=bars, meter=meter), Style.random(style, meter=meter), 0
    )


def example(style=5, meter="4/4"):
    return render_score(random_chart(2, bars=8, meter=meter), Style.random(style, meter=meter), 0)


def test_a_song_comes_back_in_the_style_on_its_own_bar_grid(model):
    content, style = song(), example()
    out = transfer_score(content, style, model, seed=0)
    roles = {t.name for t in out.tracks}
    want = {
        "Bass": "bass",
        "Piano": "keys",
        "Guitar": "guitar",
        "Strings": "strings",
        "Drums": "drums",
    }
    played = {name for name in want if any(t.name == name for t in style.tracks)}
    assert roles == played and len(out.notes) > 0
    for t in out.tracks:  # programs come from the style example
        source = next(s for s in style.tracks if s.name == t.name)
        assert (t.program, t.is_drum) == (source.program, source.is_drum)
    # The content's tempo map and bars, and no note past the content's last bar.
    assert out.tempos.tolist() == content.tempos.tolist()
    assert out.ticks_per_beat == content.ticks_per_beat
    windows = segments(content, 4)
    assert out.notes["end"].max() <= windows[-1].end
    # No generated note crosses a segment boundary.
    edges = np.array([w.start for w in windows])
    k = np.searchsorted(edges, out.notes["start"], side="right") - 1
    assert (out.notes["end"] <= np.array([w.end for w in windows])[k]).all()


def test_same_seed_same_output_other_seed_differs(model):
    content, style = song(), example()
    a = transfer_score(content, style, model, roles=["bass"], seed=7)
    b = transfer_score(content, style, model, roles=["bass"], seed=7)
    c = transfer_score(content, style, model, roles=["bass"], seed=8)
    assert np.array_equal(a.notes, b.notes)
    assert not np.array_equal(a.notes, c.notes)


def test_python_api_takes_paths_and_returns_pretty_midi(model_path, tmp_path):
    content, style = tmp_path / "c.mid", tmp_path / "s.mid"
    midi.save(song(), content)
    midi.save(example(), style)
    pm = groove.transfer(content, style, model=model_path, roles=["piano", "drums"], seed=0)
    assert sorted(i.name for i in pm.instruments) == ["Drums", "Piano"]
    assert [i.is_drum for i in pm.instruments if i.name == "Drums"] == [True]


def test_decoding_is_always_valid_and_capped(model):
    """Random weights, hot sampling: every stream still decodes without a repair."""
    content = song(bars=4)
    windows = segments(content, 4)
    rng = np.random.default_rng(0)
    inputs = {
        "content": np.zeros((6, 64, 128), np.float32),
        "content_mask": np.ones((6, 64), np.float32),
        "style": rng.integers(3, TOK.vocab_size, (6, 30)).astype(np.int32),
        "role": np.array([0, 1, 2, 3, 4, 4], np.int32),
    }
    keys = np.zeros((6, 256), bool)
    keys[:4, :128] = True
    keys[4:, 128:] = True
    end = np.full(6, round(windows[0].beats * TOK.resolution))
    grammar = EventGrammar.for_tokenizer(TOK, keys, end, max_tokens=150)
    ids = generate_ids(model, inputs, grammar, make_sampler(3.0), TOK, seed=1)
    for i, row in enumerate(ids):
        assert len(row) <= 150
        score, report = TOK.decode_score(row)
        assert report.unmatched_note_offs == 0 and report.misplaced_specials == 0
        steps_end = score.notes["end"] / score.ticks_per_beat * TOK.resolution
        assert (steps_end <= end[i] + 1e-9).all()
        drum_track = [t.is_drum for t in score.tracks]
        assert all(drum_track) if i >= 4 else not any(drum_track)


def test_grammar_forbids_invalid_events():
    codes = TOK.codes
    keys = np.zeros((1, 256), bool)
    keys[0, :128] = True
    g = EventGrammar(codes, keys, np.array([24]), max_tokens=10)
    ok = g.allowed()[0]
    on60, off60 = TOK.token_to_id("NOTE_ON_60"), TOK.token_to_id("NOTE_OFF_60")
    assert ok[on60] and not ok[off60] and not ok[TOK.token_to_id("DRUM_ON_36")]
    assert ok[TOK.eos_id] and not ok[TOK.pad_id] and not ok[TOK.bos_id]
    g.update(np.array([on60]))
    ok = g.allowed()[0]
    assert not ok[TOK.eos_id]  # no EOS while a note sounds
    assert not ok[off60]  # nor a NOTE_OFF at its onset (a zero-length note)
    g.update(np.array([TOK.token_to_id("TIME_SHIFT_1")]))
    assert g.allowed()[0][off60]
    g.update(np.array([TOK.token_to_id("TIME_SHIFT_23")]))  # at the segment end
    ok = g.allowed()[0]
    assert not ok[on60] and not ok[TOK.token_to_id("TIME_SHIFT_1")] and ok[off60]
    assert set(np.flatnonzero(ok).tolist()) == {off60}


def test_samplers():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([[0.1, 0.6, 0.3, 0.0 + 1e-12]]))
    assert GreedySampler()(logits, rng).tolist() == [1]
    draws = {int(TopKSampler(2)(logits, rng)[0]) for _ in range(200)}
    assert draws == {1, 2}
    draws = {int(TopPSampler(0.5)(logits, rng)[0]) for _ in range(50)}
    assert draws == {1}
    allowed = np.array([[True, False, True, True]])
    assert GreedySampler()(masked(logits, allowed), rng).tolist() == [2]
    with pytest.raises(ConfigError):
        make_sampler(1.0, top_k=3, top_p=0.9)


def test_keep_melody_copies_the_top_track(model):
    content = song()
    out = transfer_score(content, example(), model, roles=["bass"], seed=0, keep_melody=True)
    top = max(
        (i for i, t in enumerate(content.tracks) if not t.is_drum),
        key=lambda i: content.notes["pitch"][content.notes["track"] == i].mean(),
    )
    kept = out.notes[out.notes["track"] == out.tracks.index(content.tracks[top])]
    assert np.array_equal(
        kept[["start", "end", "pitch"]],
        content.notes[content.notes["track"] == top][["start", "end", "pitch"]],
    )


def test_missing_role_empty_content_and_odd_meters_are_explained(model):
    style = example()
    no_guitar = style.replace(
        notes=style.notes[[style.tracks[i].name != "Guitar" for i in style.notes["track"]]]
    )
    with pytest.raises(MidiError, match="no track plays guitar; tracks found: Bass"):
        transfer_score(song(), no_guitar, model, roles=["guitar"])
    empty = song().replace(notes=song().notes[:0])
    with pytest.raises(MidiError, match="no notes"):
        transfer_score(empty, style, model)
    five = song(bars=5).replace(time_signatures=np.array([(0, 5, 4)], TIME_SIGNATURE_DTYPE))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        transfer_score(five, style, model, roles=["bass"], seed=0)
    assert any(
        issubclass(w.category, GrooveWarning) and "5 beats" in str(w.message) for w in caught
    )


def test_a_real_song_as_content(model):
    path = SHARED_MIDI / "miditok" / "multitrack" / "Funkytown.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    out = transfer_score(path, example(), model, roles=["bass", "drums"], seed=0, max_tokens=40)
    content = midi.load(path)
    assert out.tempos.tolist() == content.tempos.tolist()
    assert len(out.notes) > 0 and out.notes["end"].max() <= segments(content, 4)[-1].end


def test_cli_transfers_and_renders(model_path, tmp_path, capsys):
    content, style = tmp_path / "c.mid", tmp_path / "s.mid"
    midi.save(song(bars=4), content)
    midi.save(example(), style)
    out, wav = tmp_path / "out.mid", tmp_path / "out.wav"
    argv = ["transfer", str(content), str(style), "-o", str(out), "--model", str(model_path)]
    # The untrained model samples ids at random: kept to the example's register and
    # harmony, its bass would rarely play at all, so this test lets it roam.
    argv += ["--no-register", "--harmony", "0", "--rhythm", "0"]
    assert main([*argv, "--roles", "bass,drums", "--seed", "1", "--render", str(wav)]) == 0
    assert {i.name for i in midi.to_pretty_midi(midi.load(out)).instruments} == {"Bass", "Drums"}
    assert wav.stat().st_size > 1000
    capsys.readouterr()
    assert main([*argv, "--roles", "flute"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    # The rule strengths reach the transfer: a negative one is refused there.
    for option in ("--harmony", "--lengths", "--rhythm"):
        assert main([*argv, option, "-1"]) == 2
        assert f"{option[2:]} must be 0 or more" in capsys.readouterr().err
    assert (
        main(
            [
                "transfer",
                str(content),
                str(style),
                "-o",
                str(out),
                "--model",
                str(tmp_path / "none.keras"),
            ]
        )
        == 2
    )
    assert "no such model" in capsys.readouterr().err


def test_style_examples_of_any_length_fit_the_batch(model):
    # The style's first 4 bars hold a single bass note, its next 4 a full bass line,
    # so the examples cycled over the song's segments differ in length.
    style = example()
    bass = style.tracks.index(next(t for t in style.tracks if t.name == "Bass"))
    n = style.notes
    first = (n["track"] == bass) & (n["start"] < 16 * style.ticks_per_beat)
    drop = first & (np.cumsum(first) > 1)
    out = transfer_score(
        song(bars=12), style.replace(notes=n[~drop]), model, roles=["bass"], seed=0
    )
    assert len(out.notes) > 0


def test_style_embedding_per_role_and_for_the_whole_example(model, model_path):
    from groove.models import StyleEncoder

    style = example()
    dim = model.config.style_dim
    drums = groove.style_embedding(midi.to_pretty_midi(style), model=model, role="drums")
    assert drums.shape == (dim,) and drums.dtype == np.float32
    np.testing.assert_allclose(groove.style_embedding(style, model=model_path, role="drums"), drums)
    assert not np.allclose(groove.style_embedding(style, model=model, role="bass"), drums)
    whole = groove.style_embedding(style, model=model)
    assert whole.shape == (dim,) and 0 < np.linalg.norm(whole) <= 1 + 1e-6
    assert isinstance(model.style_encoder, StyleEncoder)
    with pytest.raises(MidiError, match="no track plays strings; tracks found:"):
        bassless = style.replace(notes=style.notes[style.notes["track"] == 0])
        groove.style_embedding(bassless, model=model, role="strings")


def test_a_long_song_is_decoded_a_bounded_batch_at_a_time_with_the_same_result(model, monkeypatch):
    """Memory must not grow with the song (issue 15): rows are decoded
    TRANSFER_BATCH_ROWS at a time, the progress callback sees each batch, and greedy
    decoding gives the same notes as one batch of every row."""
    from groove.models.transfer import task

    content, style = song(bars=20), example()
    # Rows padded in other batches get logits a few 1e-4 apart, and this untrained
    # model's logits are so close that the rhythm rule's near-ties then flip a greedy
    # choice: the batching is checked without that rule.
    whole = transfer_score(content, style, model, temperature=0, rhythm=0)
    rows = len(segments(content, 4)) * len(whole.tracks)
    assert rows > 3
    monkeypatch.setattr(task, "TRANSFER_BATCH_ROWS", 3)
    seen = []
    batched = transfer_score(content, style, model, temperature=0, rhythm=0,
                             progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen == [(min(i + 3, rows), rows) for i in range(0, rows, 3)]
    assert [t.name for t in batched.tracks] == [t.name for t in whole.tracks]
    np.testing.assert_array_equal(batched.notes, whole.notes)


def test_a_song_over_the_length_limit_is_refused_naming_the_file(model, monkeypatch):
    from groove.models.transfer import task

    content = song(bars=10)
    monkeypatch.setattr(task, "MAX_TRANSFER_SECONDS", content.duration_seconds - 1)
    with pytest.raises(MidiError, match="minute limit of a transfer"):
        transfer_score(content, example(), model, seed=0)
