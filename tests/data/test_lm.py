"""Language-model data: sources, file-level splits, stored notes, augmented windows."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest

from groove import midi
from groove.data.lm import (
    augment,
    build_lm_corpus,
    list_sources,
    load_split,
    load_tokenizer,
    split_files,
)
from groove.errors import ConfigError, GrooveWarning
from groove.midi import Track
from groove.models.music_transformer.preprocessor import lm_dataset, lm_windows
from groove.tokenizers import BeatTokenizer, PerformanceTokenizer, Tokenizer
from tests.conftest import SHARED_MIDI, manifest, score_of

BAD = [r["file"] for r in manifest() if r["category"] == "bad"]


@pytest.fixture(scope="module")
def bach(tmp_path_factory):
    """Six Bach chorales from music21's corpus (4 train, 1 val, 1 test)."""
    out = tmp_path_factory.mktemp("bach")
    return out, build_lm_corpus(["music21:bach"], out, limit=6, seed=0, progress=False)


def tiny_scores():
    """Notes on whole beats (0.5 s at 120 qpm), a pitch near the top, and drums."""
    piano, drums = Track(0, False, "piano"), Track(0, True, "drums")
    a = score_of(
        [
            (0, 480, 60, 100, 0),
            (480, 960, 64, 90, 0),
            (960, 1920, 125, 80, 0),
            (0, 240, 36, 100, 1),
        ],
        tracks=[piano, drums],
    )
    b = score_of([(0, 960, 48, 70, 0), (960, 2880, 55, 70, 0)], tracks=[piano])
    return {"a.mid": a, "b.mid": b}


@pytest.fixture(scope="module")
def tiny_src(tmp_path_factory):
    src = tmp_path_factory.mktemp("tiny_src")
    for name, score in tiny_scores().items():
        midi.save(score, src / name)
    return src


@pytest.fixture(scope="module")
def tiny(tiny_src, tmp_path_factory):
    """The two small synthetic files, all in train."""
    out = tmp_path_factory.mktemp("tiny")
    build_lm_corpus([tiny_src], out, splits=(1, 0, 0), progress=False)
    return out


def shifts(tok, ids):
    """Total TIME_SHIFT steps in `ids`."""
    return sum(int(t.rsplit("_", 1)[1]) for t in tok.ids_to_tokens(ids) if "TIME_SHIFT" in t)


def note_ons(tok, ids):
    return sorted(int(t[8:]) for t in tok.ids_to_tokens(ids) if t.startswith("NOTE_ON_"))


# ----------------------------------------------------------------------------- sources


def test_list_sources_expands_folders_files_and_music21(tmp_path):
    for name in ("b/Two.MID", "a/one.midi", "c.mid", "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    expected = [str(tmp_path / p) for p in ("a/one.midi", "b/Two.MID", "c.mid")]
    assert list_sources([tmp_path]) == expected
    assert list_sources([tmp_path / "c.mid", tmp_path]) == [expected[2], *expected[:2]]
    bach = list_sources(["music21:bach"], limit=3)
    assert len(bach) == 3 and all(item.startswith("music21:bach/") for item in bach)
    assert bach == sorted(bach)
    with pytest.raises(ConfigError, match="nosuchcomposer"):
        list_sources(["music21:nosuchcomposer"])
    with pytest.raises(ConfigError, match="missing"):
        list_sources([tmp_path / "missing"])


def test_split_is_by_file_disjoint_complete_and_seeded():
    names = [f"f{i}.mid" for i in range(20)]
    split = split_files(names, (0.8, 0.1, 0.1), seed=0)
    assert sorted(n for part in split.values() for n in part) == sorted(names)
    assert [len(split[s]) for s in ("train", "val", "test")] == [16, 2, 2]
    assert split_files(names, seed=0) == split and split_files(names, seed=1) != split
    assert all(len(part) == 1 for part in split_files(names[:3]).values())
    with pytest.raises(ConfigError):
        split_files(names, (0.8, 0.2))


def test_corpus_manifest_and_split_files(bach):
    out, man = bach
    items = list_sources(["music21:bach"], limit=6)
    files = man["files"]
    assert sorted(files["train"] + files["val"] + files["test"]) == sorted(items)
    assert all(len(files[s]) >= 1 for s in ("train", "val", "test"))
    assert set(files["train"]).isdisjoint(files["val"] + files["test"])
    assert json.loads((out / "manifest.json").read_text()) == man
    tok = load_tokenizer(out)
    assert tok == PerformanceTokenizer() and man["tokenizer"]["kind"] == "performance"
    for split in ("train", "val", "test"):
        data = load_split(out, split)  # load_split reads without allow_pickle
        assert data.names.tolist() == files[split]
        assert man["counts"][split]["notes"] == len(data.tables["notes"])
        assert man["counts"][split]["tokens"] == sum(
            len(tok.encode(data.score(i))) for i in range(len(data))
        )
    other = build_lm_corpus(["music21:bach"], out / "s1", limit=6, seed=1, progress=False)
    assert other["files"] != files


def test_stored_scores_are_the_prepared_input(tiny, tiny_src):
    data = load_split(tiny, "train")
    assert data.names.tolist() == [str(tiny_src / "a.mid"), str(tiny_src / "b.mid")]
    for i, original in enumerate(tiny_scores().values()):
        score = data.score(i)
        assert score.tracks == original.tracks and score.ticks_per_beat == original.ticks_per_beat
        np.testing.assert_array_equal(score.notes, original.notes)
        assert score.tempo_map.ticks_to_seconds(960) == pytest.approx(1.0)


def test_unreadable_files_are_skipped_with_a_warning(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    midi.save(tiny_scores()["a.mid"], src / "good.mid")
    (src / "garbage.mid").write_bytes(b"not a midi file")
    for name in BAD:
        shutil.copy(SHARED_MIDI / name, src / name.replace("/", "_"))
    with pytest.warns(GrooveWarning) as caught:
        man = build_lm_corpus([src], tmp_path / "out", progress=False)
    messages = [str(w.message) for w in caught]
    skipped = {r["file"] for r in man["skipped"]}
    assert str(src / "good.mid") not in skipped
    assert any(str(src / "good.mid") in part for part in man["files"].values())
    # Files groove can repair (a truncated track, data bytes > 127) are kept.
    unreadable = ["garbage.mid"] + [
        n.replace("/", "_") for n in BAD if n in ("bad/type2.mid", "bad/zero-ticks-per-beat.mid")
    ]
    for name in unreadable:
        assert str(src / name) in skipped
        assert any(m.startswith(f"{src / name}: skipped") for m in messages)


def test_parallel_loading_builds_the_same_corpus(tiny, tiny_src, tmp_path):
    build_lm_corpus([tiny_src], tmp_path, splits=(1, 0, 0), workers=2, progress=False)
    a, b = np.load(tiny / "train.npz"), np.load(tmp_path / "train.npz")
    assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


# ---------------------------------------------------------------------- augmentation


def test_augment_transposes_pitched_notes_and_scales_tempo():
    score = tiny_scores()["a.mid"]
    up = augment(score, 3)
    pitched = up.notes[up.notes["track"] == 0]["pitch"].tolist()
    assert pitched == [63, 67]  # 125 + 3 left the MIDI range and was dropped
    assert up.notes[up.notes["track"] == 1]["pitch"].tolist() == [36]  # drums stay
    fast = augment(score, speed=2.0)
    assert fast.duration_seconds == pytest.approx(score.duration_seconds / 2)
    np.testing.assert_array_equal(fast.notes, score.notes)


def test_transposition_shifts_every_note_on(tiny):
    data, tok = load_split(tiny, "train"), load_tokenizer(tiny)
    kw = dict(length=256, stretch=None, crop="all", shuffle=False, repeat=False)
    plain = list(lm_windows(data, tok, transpose=None, **kw))
    for k in (-5, 3):
        moved = list(lm_windows(data, tok, transpose=(k, k), **kw))
        for w0, w1 in zip(plain, moved):
            expected = [p + k for p in note_ons(tok, w0) if 0 <= p + k <= 127]
            assert note_ons(tok, w1) == expected
    assert 125 in note_ons(tok, plain[0])  # so +3 dropped one note
    assert len(note_ons(tok, moved[0])) == len(note_ons(tok, plain[0])) - 1


def test_stretch_scales_performance_time_by_its_inverse(tiny):
    data, tok = load_split(tiny, "train"), load_tokenizer(tiny)
    kw = dict(length=256, transpose=None, crop="all", shuffle=False, repeat=False)
    base = [shifts(tok, w) for w in lm_windows(data, tok, stretch=None, **kw)]
    for f in (2.0, 0.5):
        stretched = [shifts(tok, w) for w in lm_windows(data, tok, stretch=(f, f), **kw)]
        assert stretched == pytest.approx([s / f for s in base], rel=0.02)


def test_stretch_leaves_beat_tokens_alone(tiny):
    data, tok = load_split(tiny, "train"), BeatTokenizer()
    kw = dict(length=128, transpose=None, crop="all", shuffle=False, repeat=False)
    plain = list(lm_windows(data, tok, stretch=None, **kw))
    fast = list(lm_windows(data, tok, stretch=(1.5, 1.5), **kw))
    assert all(np.array_equal(a, b) for a, b in zip(plain, fast))


# --------------------------------------------------------------------------- windows


def test_held_out_windows_cover_each_file_once(bach):
    out, _ = bach
    data, tok = load_split(out, "val"), load_tokenizer(out)
    length = 100
    windows = list(lm_windows(data, tok, length=length, transpose=None, stretch=None, repeat=False))
    ids = np.concatenate([[tok.bos_id], tok.encode(data.score(0)), [tok.eos_id]])
    assert len(windows) == -(-(len(ids) - 1) // length)
    targets = np.concatenate([w[1:] for w in windows])
    np.testing.assert_array_equal(targets[: len(ids) - 1], ids[1:])
    assert (targets[len(ids) - 1 :] == tok.pad_id).all()
    assert windows[0][0] == tok.bos_id and (windows[1][0] == ids[length])


def test_random_windows_are_crops_with_bos_at_start_and_pad_past_the_end(tiny):
    data, tok = load_split(tiny, "train"), load_tokenizer(tiny)
    long = list(lm_windows(data, tok, length=200, transpose=None, stretch=(1, 1), repeat=False))
    for w in long:  # shorter than the window: whole file, then PAD
        real = w[w != tok.pad_id]
        assert real[0] == tok.bos_id and real[-1] == tok.eos_id
        assert (w[len(real) :] == tok.pad_id).all()
    short = lm_windows(data, tok, length=4, transpose=None, stretch=(1, 1), seed=3)
    for _ in range(20):
        w = next(short)
        assert len(w) == 5 and tok.pad_id not in w


def test_windows_decode_to_valid_midi(bach):
    out, _ = bach
    data, tok = load_split(out, "train"), load_tokenizer(out)
    for w in itertools.islice(lm_windows(data, tok, length=128, seed=1), 4):
        pm = tok.decode(w)
        score = midi.load(midi.to_bytes(pm))
        assert len(score.notes) > 0 and score.duration_seconds > 0


def test_bad_arguments_are_config_errors(bach, tiny):
    out, _ = bach
    data, tok = load_split(out, "train"), load_tokenizer(out)
    for kw in (dict(length=0), dict(length=8, stretch=(0, 1)), dict(length=8, crop="middle")):
        with pytest.raises(ConfigError):
            lm_windows(data, tok, **kw)
    with pytest.raises(ConfigError, match="no files"):
        lm_windows(load_split(tiny, "val"), tok, length=8)
    with pytest.raises(ConfigError, match="no such split"):
        load_split(out, "dev")


# -------------------------------------------------------------------------- tf.data


def test_dataset_batches_are_shifted_int32_windows_in_the_vocab(bach):
    out, _ = bach
    tok = Tokenizer.load(out / "tokenizer.json")
    ds = lm_dataset(out, "train", length=64, batch_size=3, drop_remainder=True)
    for inputs, targets in ds.take(3):
        assert inputs.shape == targets.shape == (3, 64)
        assert inputs.dtype.name == targets.dtype.name == "int32"
        x, y = inputs.numpy(), targets.numpy()
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        assert x.min() >= 0 and max(x.max(), y.max()) < tok.vocab_size


def test_dataset_is_deterministic_given_its_seed(bach):
    out, _ = bach

    def first(seed):
        ds = lm_dataset(out, "train", length=32, batch_size=2, seed=seed)
        return [x.numpy() for x, _ in ds.take(4)]

    a = first(0)
    assert all(np.array_equal(u, v) for u, v in zip(a, first(0)))
    assert not all(np.array_equal(u, v) for u, v in zip(a, first(1)))


def test_held_out_dataset_is_finite_and_unaugmented(bach):
    out, man = bach
    kw = dict(length=64, batch_size=4, transpose=None, stretch=None, shuffle=False, repeat=False)
    batches = list(lm_dataset(out, "test", **kw))
    windows = np.concatenate([x.numpy() for x, _ in batches])
    assert len(windows) == -(-(man["counts"]["test"]["tokens"] + 1) // 64)
    assert batches[-1][0].shape[0] <= 4


def test_cli_collects_a_music21_corpus_and_refuses_unknown_names(tmp_path, capsys):
    from groove.cli import main

    out = tmp_path / "lm"
    assert main(["data", "corpus", "music21:bach", "--limit", "4", "--out", str(out), "-q"]) == 0
    assert "4 files" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(c["files"] for c in manifest["counts"].values()) == 4
    assert main(["data", "corpus", "music21:nosuchcomposer", "--out", str(out), "-q"]) == 2
    assert "nosuchcomposer" in capsys.readouterr().err
    assert main(["data", "corpus", "music21:bach", "--splits", "a,b", "--out", str(out)]) == 2
