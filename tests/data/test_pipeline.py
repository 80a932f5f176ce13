"""Style-transfer triplets from the synthetic corpus, written to TFRecord and read by tf.data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from groove import midi
from groove.cli import main
from groove.data.corpus import build_corpus
from groove.data.pipeline import (
    corpus_triplets,
    load_tokenizer,
    read_triplets,
    write_triplets,
)
from groove.data.segments import content_roll, cut, role_score, segments
from groove.errors import ConfigError
from groove.midi.roles import TRANSFER_ROLES
from groove.models.transfer.preprocessor import transfer_dataset

STEP = 40  # one step of the beat tokenizer's 1/12-beat grid, in 480-tick beats


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    manifest = build_corpus(out, 12, 10, styles_per_chart=3, progress=False)
    return out, manifest


@pytest.fixture(scope="module")
def triplets(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("triplets")
    write_triplets(corpus[0], out, progress=False)
    return out


def render_of(corpus_dir, manifest, chart, style):
    item = next(i for i in manifest["items"] if i["chart"] == chart and i["style"] == style)
    return midi.load(corpus_dir / item["file"]), item


def windows_of(score, manifest, chart):
    info = manifest["charts"][chart]
    beats = {"4/4": 4, "3/4": 3, "12/8": 6}[info["meter"]]
    return segments(score, 8, min_bars=4, end=info["bars"] * beats * score.ticks_per_beat)


def note_set(score, with_duration=True):
    """(onset step, pitch[, offset step]) of every note, on the tokenizer's grid."""
    n = score.notes
    rows = zip(np.rint(n["start"] / STEP).astype(int).tolist(), n["pitch"].tolist(), strict=True)
    if not with_duration:
        return sorted(rows)
    ends = np.rint(n["end"] / STEP).astype(int).tolist()
    return sorted((a, p, e) for (a, p), e in zip(rows, ends, strict=True))


def test_triplets_decode_back_to_the_rendered_target(corpus, triplets):
    corpus_dir, manifest = corpus
    tokenizer = load_tokenizer(triplets)
    read = list(read_triplets(triplets, "train"))
    assert (
        len(read)
        == json.loads((triplets / "triplets.json").read_text())["splits"]["train"]["triplets"]
    )
    assert {t.role for t in read} >= {"bass", "drums"}
    for t in read[:: max(len(read) // 40, 1)]:
        info = t.info
        assert info["content_style"] != info["target_style"]
        assert info["example_chart"] != info["chart"]
        source, _ = render_of(corpus_dir, manifest, info["chart"], info["content_style"])
        target, _ = render_of(corpus_dir, manifest, info["chart"], info["target_style"])
        example, _ = render_of(corpus_dir, manifest, info["example_chart"], info["target_style"])
        # Content: the segment in style A, drums left out, velocities kept.
        window = windows_of(source, manifest, info["chart"])[info["segment"]]
        expected = np.rint(content_roll(source, window, velocity=True) * 127)
        np.testing.assert_array_equal(t.content, expected)
        # Target: decodes to the notes of that role in style B, on the 1/12-beat grid.
        decoded, report = tokenizer.decode_score(t.target, ticks_per_beat=480)
        want = cut(role_score(target, t.role), window)
        assert len(decoded.notes) == len(want.notes) > 0
        assert note_set(decoded) == note_set(want)
        is_drum = t.role == "drums"
        assert all(track.is_drum == is_drum for track in decoded.tracks)
        assert not report.repairs
        # Style example: the same role of another chart in style B.
        j = windows_of(example, manifest, info["example_chart"])[info["example_segment"]]
        example_notes = cut(role_score(example, t.role), j)
        assert note_set(tokenizer.decode_score(t.style)[0], False) == note_set(example_notes, False)


def test_itest_style_examples_come_from_training_renders(corpus, triplets):
    _, manifest = corpus
    train_charts = {c["index"] for c in manifest["charts"] if c["split"] == "train"}
    test_charts = {c["index"] for c in manifest["charts"] if c["split"] == "test"}
    read = list(read_triplets(triplets, "itest"))
    assert read
    assert {t.info["chart"] for t in read} <= test_charts
    assert {t.info["example_chart"] for t in read} <= train_charts


def test_triplets_are_reproducible_from_the_seed(corpus):
    a = list(corpus_triplets(corpus[0], "train", seed=3))
    b = list(corpus_triplets(corpus[0], "train", seed=3))
    c = list(corpus_triplets(corpus[0], "train", seed=4))
    assert [t.info for t in a] == [t.info for t in b]
    assert all(np.array_equal(x.style, y.style) for x, y in zip(a, b, strict=True))
    assert [t.info for t in a] != [t.info for t in c]


def test_roles_limit_the_targets_and_long_examples_are_skipped(corpus):
    stats = {}
    only_bass = list(corpus_triplets(corpus[0], "train", roles=["bass"], stats=stats))
    assert only_bass and {t.role for t in only_bass} == {"bass"}
    stats = {}
    short = list(corpus_triplets(corpus[0], "train", max_tokens=100, stats=stats))
    assert all(max(len(t.style), len(t.target)) <= 100 for t in short)
    assert stats["too_long"] > 0
    with pytest.raises(ConfigError, match="split"):
        next(corpus_triplets(corpus[0], "training"))


def test_dataset_batches_are_padded_and_shifted_for_teacher_forcing(triplets):
    tokenizer = load_tokenizer(triplets)
    ds = transfer_dataset(triplets, "train", batch_size=8, shuffle=False)
    seen = 0
    for inputs, target in ds.as_numpy_iterator():
        b, length = target.shape
        assert inputs["content"].shape[0] == b and inputs["content"].shape[2] == 128
        assert inputs["content"].dtype == np.float32
        assert set(np.unique(inputs["content"]).tolist()) <= {0.0, 1.0}
        assert inputs["tokens"].shape == (b, length) and inputs["tokens"].dtype == np.int32
        assert inputs["style"].dtype == np.int32 and inputs["style"].shape[0] == b
        assert inputs["role"].shape == (b,) and inputs["role"].max() < len(TRANSFER_ROLES)
        assert (inputs["tokens"][:, 0] == tokenizer.bos_id).all()
        real = target != tokenizer.pad_id
        n = real.sum(axis=1)
        # Each row: BOS + ids as input, ids + EOS as target, then PAD in both.
        for row in range(b):
            assert target[row, n[row] - 1] == tokenizer.eos_id
            assert np.array_equal(inputs["tokens"][row, 1 : n[row]], target[row, : n[row] - 1])
            assert (inputs["tokens"][row, n[row] :] == tokenizer.pad_id).all()
            assert not real[row, n[row] :].any()
        seen += b
    assert seen == len(list(read_triplets(triplets, "train")))


def test_buckets_keep_similar_lengths_together_and_shuffling_is_seeded(triplets):
    bounds = (128, 256, 512)
    ds = transfer_dataset(triplets, "train", batch_size=4, bucket_boundaries=bounds, seed=1)
    edges = (0, *bounds, 10**6)
    for _, target in ds.as_numpy_iterator():
        lengths = (target != 0).sum(axis=1)
        bucket = np.searchsorted(edges, lengths, side="right")
        assert len(set(bucket.tolist())) == 1  # one bucket per batch
    first = [t for _, t in transfer_dataset(triplets, "train", seed=1).as_numpy_iterator()]
    again = [t for _, t in transfer_dataset(triplets, "train", seed=1).as_numpy_iterator()]
    other = [t for _, t in transfer_dataset(triplets, "train", seed=2).as_numpy_iterator()]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other, strict=False)
    )


def test_velocity_rolls_and_a_keras_model_trains_on_the_batches(triplets):
    keras = pytest.importorskip("keras")
    ds = transfer_dataset(triplets, "train", batch_size=8, velocity=True, bucket_boundaries=None)
    inputs, _ = next(ds.as_numpy_iterator())
    values = np.unique(inputs["content"])
    assert values.min() == 0 and values.max() <= 1 and len(values) > 2

    # The smallest model that reads every input: the batches are what `fit` wants.
    vocab = len(load_tokenizer(triplets).vocab)
    content = keras.Input((None, 128), name="content")
    style = keras.Input((None,), dtype="int32", name="style")
    role = keras.Input((), dtype="int32", name="role")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    summary = keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(8)(content))
    style_vec = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(vocab, 8)(style))
    role_vec = keras.layers.Embedding(len(TRANSFER_ROLES), 8)(role)
    context = keras.layers.Concatenate()([summary, style_vec, role_vec])
    x = keras.layers.Embedding(vocab, 8)(tokens)
    x = x + keras.layers.Reshape((1, 8))(keras.layers.Dense(8)(context))
    logits = keras.layers.Dense(vocab)(x)
    model = keras.Model([content, style, role, tokens], logits)
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    )
    history = model.fit(ds.take(3), epochs=2, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[1] < losses[0]


def test_cli_writes_triplets_and_refuses_bad_input(corpus, tmp_path, capsys):
    out = tmp_path / "t"
    assert (
        main(["data", "triplets", str(corpus[0]), "--out", str(out), "--roles", "piano", "-q"]) == 0
    )
    assert "train" in capsys.readouterr().out
    assert {t.role for t in read_triplets(out, "train")} == {"keys"}
    # The same folder with other settings is refused, not mixed.
    assert main(["data", "triplets", str(corpus[0]), "--out", str(out), "--bars", "4", "-q"]) == 2
    assert "other settings" in capsys.readouterr().err
    assert main(["data", "triplets", str(tmp_path / "none"), "--out", str(out), "-q"]) == 2
    assert "manifest.json" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no triplets"):
        transfer_dataset(out, "nonexistent")


def test_cli_max_tokens_caps_every_triplet(corpus, triplets, tmp_path):
    out = tmp_path / "short"
    args = ["data", "triplets", str(corpus[0]), "--out", str(out), "--splits", "train", "-q"]
    # A cap that the shortest triplet of the corpus fits and longer ones do not.
    cap = min(max(len(t.style), len(t.target)) for t in read_triplets(triplets, "train"))
    assert main([*args, "--max-tokens", str(cap)]) == 0
    manifest = json.loads((out / "triplets.json").read_text())
    assert manifest["config"]["max_tokens"] == cap
    assert manifest["splits"]["train"]["skipped"]["too_long"] > 0
    kept = list(read_triplets(out, "train"))
    assert kept and all(max(len(t.style), len(t.target)) <= cap for t in kept)
    assert main([*args[:-1], "--out", str(tmp_path / "x"), "--max-tokens", "0"]) == 2
