"""The time-aware Transformer decoder of the style-transfer model (issue 14).

Its time inputs (a shifted segment gives shifted position inputs), cached
generation against teacher forcing, saving, JAX -> TensorFlow loading, and a whole
transfer with a `DurationTokenizer`. The models are tiny and untrained: these tests
check the machinery, not the music.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import groove  # noqa: E402
from groove.data import Style, random_chart, render_score  # noqa: E402
from groove.data.segments import role_score, segments  # noqa: E402
from groove.errors import ConfigError  # noqa: E402
from groove.midi.roles import TRACK_NAMES, TRANSFER_ROLES  # noqa: E402
from groove.models.sampling import compiled  # noqa: E402
from groove.models.transfer import StyleTransferModel, build_model  # noqa: E402
from groove.models.transfer import task as transfer_task  # noqa: E402
from groove.models.transfer.backbone import _shift_values  # noqa: E402
from groove.models.transfer.decoder import TransformerDecoder  # noqa: E402
from groove.models.transfer.task import transfer_score  # noqa: E402
from groove.tokenizers import DurationTokenizer  # noqa: E402
from tests.conftest import run_child  # noqa: E402

TOK = DurationTokenizer()
SPEC = {"kind": TOK.kind, "config": TOK.get_config()}
V = TOK.vocab_size
R = TOK.resolution  # grid steps per beat (12)
FPB = 4  # content frames per beat (the data settings' default)


def ids(*names: str) -> np.ndarray:
    return np.array([TOK.token_to_id(n) for n in names], np.int32)


def tiny(**overrides):
    keras.utils.set_random_seed(0)
    return build_model(V, "tiny", decoder="transformer", tokenizer=SPEC,
                       data={"bars": 2, "max_tokens": 120, "style_tokens": 256},
                       **overrides)  # fmt: skip


@pytest.fixture(scope="module")
def model():
    return tiny()


@pytest.fixture(scope="module")
def blind():
    """The ablation: no time inputs."""
    return tiny(time_inputs=False)


def batch(seed=0, frames=(48, 32, 20), bar_beats=(4.0, 3.0, 6.0), length=12):
    """Model inputs: one row per content length (padded with notes the mask hides)."""
    rng = np.random.default_rng(seed)
    b, t = len(frames), max(frames)
    mask = (np.arange(t)[None] < np.array(frames)[:, None]).astype("float32")
    tokens = rng.integers(3, V, (b, length)).astype("int32")
    tokens[:, 0] = TOK.bos_id
    return {
        "content": (rng.random((b, t, 128)) > 0.9).astype("float32"),
        "content_mask": mask,
        "style": rng.integers(3, V, (b, 10)).astype("int32"),
        "role": np.arange(b, dtype="int32") % 5,
        "tokens": tokens,
        "bar_beats": np.array(bar_beats, "float32"),
    }


# ------------------------------------------------------------------- time inputs

# Tokens whose times (the grid step after each) are 0, 12, 36, 43, 48, 55, 79, 84, 103.
SEQ = ids("NOTE_ON_60", "TIME_SHIFT_12", "TIME_SHIFT_24", "TIME_SHIFT_7", "TIME_SHIFT_5",
          "TIME_SHIFT_7", "TIME_SHIFT_24", "TIME_SHIFT_5", "TIME_SHIFT_19")  # fmt: skip
SEQ_TIMES = [0, 12, 36, 43, 48, 55, 79, 84, 103]


def test_time_is_the_sum_of_the_time_shifts_so_far(model):
    dec = model.decoder
    mixed = ids("VELOCITY_2", "NOTE_ON_60", "DURATION_30", "TIME_SHIFT_12", "DRUM_ON_36",
                "TIME_SHIFT_3", "NOTE_ON_64", "DURATION_48", "TIME_SHIFT_24")  # fmt: skip
    expected = np.array([0, 0, 0, 12, 12, 15, 15, 15, 39])  # DURATIONs do not move time
    np.testing.assert_array_equal(np.asarray(dec._times(mixed[None])), [expected])
    np.testing.assert_array_equal(np.asarray(dec._times(SEQ[None])), [SEQ_TIMES])
    # A segment shifted by k steps: every later time grows by exactly k.
    for shift in (["TIME_SHIFT_1"], ["TIME_SHIFT_7"], ["TIME_SHIFT_24", "TIME_SHIFT_24"]):
        k = sum(int(s.rsplit("_", 1)[1]) for s in shift)
        rows = np.stack([np.concatenate([ids(*shift), mixed]),
                         np.concatenate([mixed, ids(*["NOTE_ON_1"] * len(shift))])])  # fmt: skip
        times = np.asarray(dec._times(rows))
        assert times[0, len(shift) - 1] == k
        np.testing.assert_array_equal(times[0, len(shift) :], expected + k)
        np.testing.assert_array_equal(times[1, : len(mixed)], expected)  # rows independent


@pytest.fixture(scope="module")
def probe():
    """A decoder whose time inputs can be read off its embedding `_embed`: channel 0
    holds the beat phase, 1 the position in the bar, 2 the beats left, 3 the beat
    content (of memory channel 0); token, condition and memory add nothing else."""
    keras.utils.set_random_seed(0)
    h = 8
    dec = TransformerDecoder(V, _shift_values(SPEC, V), R, FPB, hidden_dim=h, num_layers=1,
                             num_heads=2, ff_dim=8, max_relative_position=8,
                             cond_dim=4)  # fmt: skip
    dec(np.ones((1, 2), "int32"), np.zeros((1, 4, h), "float32"), np.ones((1, 4), "float32"),
        np.zeros((1, 4), "float32"), np.full((1,), 4.0, "float32"))  # fmt: skip

    def table(layer, channel):
        rows = layer.embeddings.shape[0]
        values = np.zeros((rows, h), "float32")
        values[:, channel] = np.arange(rows)
        layer.embeddings.assign(values)

    dec.embedding.embeddings.assign(np.zeros(dec.embedding.embeddings.shape, "float32"))
    for dense in (dec.cond_proj, dec.beat_proj):
        dense.kernel.assign(np.zeros(dense.kernel.shape, "float32"))
        dense.bias.assign(np.zeros(dense.bias.shape, "float32"))
    beat = np.zeros(dec.beat_proj.kernel.shape, "float32")
    beat[0, 3] = 1.0
    dec.beat_proj.kernel.assign(beat)
    table(dec.phase_embedding, 0)
    table(dec.bar_embedding, 1)
    table(dec.left_embedding, 2)
    return dec


def beat_memory(frames=32, h=8):
    """Memory whose frame f holds 10 * beat + (f within its beat) in channel 0: a
    beat's mean is 10 * beat + 1.5 when its 4 frames are real."""
    f = np.arange(frames)
    memory = np.zeros((frames, h), "float32")
    memory[:, 0] = 10 * (f // FPB) + f % FPB
    return memory


def time_inputs(dec, tokens, real_frames, bar_beats, frames=32):
    """`(phase, bar position, beats left, beat content)`, each `(B, L)`, as the
    decoder embeds them for `tokens`, in the way its `call` computes them."""
    b = len(real_frames)
    memory = np.repeat(beat_memory(frames)[None], b, 0)  # padding frames hold values too
    mask = (np.arange(frames)[None] < np.array(real_frames)[:, None]).astype("float32")
    end, bar = dec._steps(mask, np.array(bar_beats, "float32"))
    tokens = np.asarray(tokens, "int32")
    x = dec._embed(tokens, dec._times(tokens), memory, mask, np.zeros((b, 4), "float32"), end, bar)
    x = np.asarray(x)
    return np.rint(x[..., 0]), np.rint(x[..., 1]), np.rint(x[..., 2]), x[..., 3]


def test_phase_bar_position_beats_left_and_beat_content_by_hand(probe):
    # Rows: 4/4 with 32 real frames (8 beats, 96 steps); 3/4 with 24 real frames of
    # 32 (6 beats); 4/4 with 30 real frames (7.5 beats: the last beat half real).
    phase, bar, left, content = time_inputs(probe, [SEQ] * 3, [32, 24, 30], [4, 3, 4])
    # times:                  0   12  36  43  48  55  79  84  103
    np.testing.assert_array_equal(phase, [[0, 0, 0, 7, 0, 7, 7, 0, 7]] * 3)
    np.testing.assert_array_equal(bar, [[0, 12, 36, 43, 0, 7, 31, 36, 7],
                                        [0, 12, 0, 7, 12, 19, 7, 12, 31],
                                        [0, 12, 36, 43, 0, 7, 31, 36, 7]])  # fmt: skip
    np.testing.assert_array_equal(left, [[8, 7, 5, 5, 4, 4, 2, 1, 0],
                                         [6, 5, 3, 3, 2, 2, 0, 0, 0],
                                         [8, 7, 5, 4, 4, 3, 1, 1, 0]])  # fmt: skip
    # The current beat's frames, averaged; only real frames count; none past the end.
    np.testing.assert_allclose(content, [[1.5, 11.5, 31.5, 31.5, 41.5, 41.5, 61.5, 71.5, 0],
                                         [1.5, 11.5, 31.5, 31.5, 41.5, 41.5, 0, 0, 0],
                                         [1.5, 11.5, 31.5, 31.5, 41.5, 41.5, 61.5, 70.5, 0]],
                               atol=1e-5)  # fmt: skip


def reference(times, real_frames, bar_beats, frames=32):
    """The time inputs of issue 14 for given times, written out with numpy."""
    t = np.asarray(times)
    end = np.array(real_frames)[:, None] * R // FPB
    bar = np.array(bar_beats)[:, None] * R
    beat = t // R
    memory = beat_memory(frames)[:, 0]
    content = np.zeros(t.shape)
    for i, n in enumerate(real_frames):
        for j, k in enumerate(beat[i]):
            real = memory[k * FPB : min((k + 1) * FPB, n)]
            content[i, j] = real.mean() if len(real) else 0.0
    left = np.clip(-(-(end - t) // R), 0, 64)
    return t % R, np.minimum(t % bar, 8 * R - 1), left, content


@pytest.mark.parametrize("shift", [["TIME_SHIFT_5"], ["TIME_SHIFT_24", "TIME_SHIFT_24"],
                                   ["TIME_SHIFT_24", "TIME_SHIFT_13"]])  # fmt: skip
def test_a_shifted_segment_gives_shifted_time_inputs(probe, shift):
    k = sum(int(s.rsplit("_", 1)[1]) for s in shift)
    rows, bars = [32, 24, 30], [4, 3, 4]
    shifted = np.concatenate([ids(*shift), SEQ])
    got = time_inputs(probe, [shifted] * 3, rows, bars)
    want = reference(np.array([SEQ_TIMES] * 3) + k, rows, bars)
    for name, g, w in zip(("phase", "bar position", "beats left", "beat content"), got, want,
                          strict=True):  # fmt: skip
        np.testing.assert_allclose(g[:, len(shift) :], w, atol=1e-5, err_msg=name)
    if k == 48:  # one 4/4 bar later: same phase and bar position, 4 beats fewer left
        base = time_inputs(probe, [SEQ] * 3, rows, bars)
        np.testing.assert_array_equal(got[0][0, 2:], base[0][0])
        np.testing.assert_array_equal(got[1][0, 2:], base[1][0])
        np.testing.assert_array_equal(got[2][0, 2:], np.maximum(base[2][0] - 4, 0))


def test_bar_positions_past_the_longest_bar_share_the_last_embedding(probe):
    # 12 quarter notes per bar (say 24/8): positions from 8 beats on are told apart no more.
    times = ids(*["TIME_SHIFT_24"] * 6)  # 24, 48, ... 144 steps
    _, bar, _, _ = time_inputs(probe, [times], [64], [12], frames=64)
    np.testing.assert_array_equal(bar, [[24, 48, 72, 95, 95, 0]])


def test_logits_depend_on_bar_beats_only_with_time_inputs(model, blind):
    x = batch(1, frames=(48, 48, 48), bar_beats=(4.0, 4.0, 4.0), length=40)
    x["tokens"][:, 1::3] = TOK.token_to_id("TIME_SHIFT_9")  # time passes bar lines
    three = dict(x, bar_beats=np.full(3, 3.0, "float32"))
    default = {k: v for k, v in x.items() if k != "bar_beats"}
    y = np.asarray(model(x))
    assert not np.allclose(np.asarray(model(three)), y, atol=1e-4)
    np.testing.assert_allclose(np.asarray(model(default)), y, atol=1e-6)  # 4/4 by default
    # Before the first 3/4 bar line (time < 36 steps) nothing differs: causal in time.
    times = np.asarray(model.decoder._times(x["tokens"]))
    before = times < 36
    np.testing.assert_allclose(np.asarray(model(three))[before], y[before], atol=1e-5)
    assert not hasattr(blind.decoder, "bar_embedding")
    np.testing.assert_allclose(np.asarray(blind(three)), np.asarray(blind(x)), atol=1e-6)


# Keras' MirroredStrategy builds a model on the MEAN of the replicas' first batches,
# so integer inputs arrive as float64 (keras/src/backend/tensorflow/trainer.py,
# `_maybe_symbolic_build`); the GRU's Embedding casts them, and so must the decoder.
def test_float_token_ids_give_the_logits_of_int_ids(model):
    x = batch(5)
    floats = {**x, "tokens": x["tokens"].astype("float64"), "style": x["style"].astype("float64"),
              "role": x["role"].astype("float64")}  # fmt: skip
    np.testing.assert_array_equal(np.asarray(model(floats)), np.asarray(model(x)))


# -------------------------------------------------------------------- generation


def test_cached_generation_equals_teacher_forcing_past_the_first_cache(model):
    # 300 tokens: the cache (128 first) doubles twice; relative distances clip at 64.
    # Rows differ in content length (padded, masked) and in bar length.
    x = batch(2, length=300)
    want = np.asarray(model(x))
    context, state = model.start_decoding(x)
    assert state[0].shape[-2] == 128
    step = compiled(model, "transfer_step", model.decode_step, jax_jit=False)  # as generate_ids
    got = []
    for position in range(x["tokens"].shape[1]):
        state = model.grow_state(state, position)
        logits, state = step(keras.ops.convert_to_tensor(x["tokens"][:, position]), state, context)
        got.append(np.asarray(logits))
    assert state[0].shape[-2] == 512
    np.testing.assert_array_equal(
        np.asarray(state[1]), np.asarray(model.decoder._times(x["tokens"]))[:, -1]
    )
    np.testing.assert_allclose(np.stack(got, 1), want, atol=1e-4)


# ------------------------------------------------------------------------ saving


def test_saves_and_loads_with_identical_outputs(model, blind, tmp_path):
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, StyleTransferModel) and loaded.config == model.config
    assert loaded.config.decoder == "transformer" and loaded.tokenizer_config == SPEC
    assert loaded.decoder.shift_values == model.decoder.shift_values
    x = batch(3)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    blind.save(tmp_path / "blind.keras")
    again = keras.saving.load_model(tmp_path / "blind.keras")
    assert again.config.time_inputs is False and not again.decoder.time_inputs
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(blind(x)))


def test_bad_decoder_settings_are_config_errors():
    with pytest.raises(ConfigError, match="tokenizer"):
        build_model(V, "tiny", decoder="transformer")
    with pytest.raises(ConfigError, match=r"decoder must be one of gru, transformer, got 'lstm'"):
        build_model(V, "tiny", decoder="lstm", tokenizer=SPEC)
    with pytest.raises(ConfigError, match=f"{V} ids, the model {V + 1}"):
        build_model(V + 1, "tiny", decoder="transformer", tokenizer=SPEC)
    with pytest.raises(ConfigError, match="multiple of num_heads"):
        build_model(V, "tiny", decoder="transformer", tokenizer=SPEC, hidden_dim=30, num_heads=4)


# ------------------------------------------------------------- style attention


@pytest.fixture(scope="module")
def attending():
    """Cross-attends to the style example's tokens as well as to the content."""
    return tiny(style_attention=True)


def test_style_attention_reads_the_style_tokens_not_only_the_style_vector():
    # The decoder alone, with the condition (the style vector) held fixed: the logits
    # change with the style tokens only when it attends to them.
    keras.utils.set_random_seed(0)
    args = dict(hidden_dim=8, num_layers=1, num_heads=2, ff_dim=8, max_relative_position=8,
                cond_dim=4)  # fmt: skip
    x = batch(6)
    memory = np.random.default_rng(0).random((3, 48, 8)).astype("float32")
    inputs = (x["tokens"], memory, x["content_mask"], np.ones((3, 4), "float32"), x["bar_beats"])
    other = x["style"][::-1].copy()
    dec = TransformerDecoder(V, _shift_values(SPEC, V), R, FPB, style_attention=True, **args)
    a = np.asarray(dec(*inputs, style=x["style"]))
    assert not np.allclose(np.asarray(dec(*inputs, style=other)), a, atol=1e-4)
    plain = TransformerDecoder(V, _shift_values(SPEC, V), R, FPB, **args)
    np.testing.assert_array_equal(np.asarray(plain(*inputs, style=other)),
                                  np.asarray(plain(*inputs, style=x["style"])))  # fmt: skip
    with pytest.raises(ValueError, match="pass its ids"):
        dec(*inputs)


def test_style_attention_ignores_padding_of_the_style_example(attending):
    x = batch(7)
    x["style"][1, 6:] = 0  # a shorter example in row 1
    padded = dict(x, style=np.pad(x["style"], [(0, 0), (0, 9)]))
    np.testing.assert_allclose(np.asarray(attending(padded)), np.asarray(attending(x)),
                               atol=1e-5)  # fmt: skip


def test_style_attention_cached_generation_equals_teacher_forcing(attending):
    x = batch(8, length=140)
    x["style"][0, 4:] = 0
    want = np.asarray(attending(x))
    context, state = attending.start_decoding(x)
    got = []
    for position in range(x["tokens"].shape[1]):
        state = attending.grow_state(state, position)
        token = keras.ops.convert_to_tensor(x["tokens"][:, position])
        logits, state = attending.decode_step(token, state, context)
        got.append(np.asarray(logits))
    np.testing.assert_allclose(np.stack(got, 1), want, atol=1e-4)


def test_style_attention_saves_and_loads_with_identical_outputs(attending, tmp_path):
    attending.save(tmp_path / "s.keras")
    loaded = keras.saving.load_model(tmp_path / "s.keras")
    assert loaded.config.style_attention and loaded.decoder.style_attention
    x = batch(9)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(attending(x)))


def test_style_attention_needs_a_one_shot_transformer_with_time_inputs():
    for bad in ({"decoder": "gru"}, {"time_inputs": False}, {"styles": 3}):
        settings = {"decoder": "transformer", **bad}
        with pytest.raises(ConfigError, match="style_attention needs"):
            build_model(V, "tiny", tokenizer=SPEC, style_attention=True, **settings)


# ----------------------------------------------------------------- JAX -> TensorFlow

JAX_CHILD = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    assert keras.backend.backend() == "jax", keras.backend.backend()
    from groove.models.transfer import build_model
    from groove.tokenizers import DurationTokenizer
    out = sys.argv[1]
    x = dict(np.load(out + "/inputs.npz"))
    tok = DurationTokenizer()
    keras.utils.set_random_seed(0)
    model = build_model(tok.vocab_size, "tiny", decoder="transformer",
                        tokenizer={"kind": tok.kind, "config": tok.get_config()}, data={"bars": 2})
    model.save(out + "/jax.keras")
    np.save(out + "/jax_logits.npy", np.asarray(model(x)))
    theirs = keras.saving.load_model(out + "/tf.keras")
    np.save(out + "/tf_model_under_jax.npy", np.asarray(theirs(x)))
    """
)


@pytest.mark.slow
def test_a_jax_model_loads_under_tensorflow_and_back_with_the_same_outputs(model, tmp_path):
    pytest.importorskip("jax")
    assert keras.backend.backend() == "tensorflow"
    x = batch(4, frames=(8, 6), bar_beats=(4.0, 3.0), length=16)
    np.savez(tmp_path / "inputs.npz", **x)
    model.save(tmp_path / "tf.keras")
    root = str(Path(groove.__file__).resolve().parents[1])  # this checkout's groove
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    # JAX compiles every eager op; unoptimised XLA builds the model twice as fast.
    fast = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": path, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": fast, "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    run_child(JAX_CHILD, [str(tmp_path)], env)
    theirs = np.load(tmp_path / "jax_logits.npy")
    ours = np.asarray(keras.saving.load_model(tmp_path / "jax.keras")(x))
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    # And back: a TensorFlow model loaded under JAX.
    np.testing.assert_allclose(np.load(tmp_path / "tf_model_under_jax.npy"),
                               np.asarray(model(x)), atol=1e-4)  # fmt: skip


# ----------------------------------------------------------------- whole transfer


@pytest.fixture(scope="module")
def transfer_model():
    keras.utils.set_random_seed(0)
    return build_model(V, "tiny", decoder="transformer", tokenizer=SPEC,
                       data={"bars": 4, "max_tokens": 200, "style_tokens": 256})  # fmt: skip


def song(seed=1, bars=10, meter="4/4", style=3):
    return render_score(
        random_chart(seed, bars=bars, meter=meter), Style.random(style, meter=meter), 0
    )


def example(style=5, meter="4/4"):
    return render_score(random_chart(2, bars=8, meter=meter), Style.random(style, meter=meter), 0)


# The untrained model plays few notes under the harmony and register rules; without
# them its rows run past the first key/value cache (128 tokens).
@pytest.mark.parametrize(
    ("meter", "rules"), [("4/4", {}), ("3/4", {"harmony": 0, "register": False})]
)
def test_transfer_with_the_transformer_and_durations(transfer_model, meter, rules, monkeypatch):
    generate_ids, decoded, inputs = transfer_task.generate_ids, [], []

    def recording(model, batch, *args, **kwargs):
        inputs.append(batch)
        decoded.append(generate_ids(model, batch, *args, **kwargs))
        return decoded[-1]

    decode, fed = transfer_task.decode, []  # fed: per call, (tokens in, logits out) per step

    def recording_decode(step, first, *args):
        fed.append([(np.full(len(first), TOK.bos_id), np.asarray(first))])

        def recorded(token):
            fed[-1].append((token, np.asarray(step(token))))
            return fed[-1][-1][1]

        return decode(recorded, first, *args)

    monkeypatch.setattr(transfer_task, "generate_ids", recording)
    monkeypatch.setattr(transfer_task, "decode", recording_decode)
    content, style = song(bars=6, meter=meter), example(meter=meter)
    # No feel: the notes stay where the decoder put them (test_transfer_feel.py moves
    # them off the grid as the style example plays).
    out = transfer_score(content, style, transfer_model, seed=0, feel=False, **rules)
    roles = [r for r in TRANSFER_ROLES if len(role_score(style, r).notes)]
    assert [t.name for t in out.tracks] == [TRACK_NAMES[r] for r in roles]
    assert len(out.notes) > 0
    # The content's tempo map and bar grid: every note inside its segment, every
    # onset on the tokenizer's grid.
    assert out.tempos.tolist() == content.tempos.tolist()
    assert out.ticks_per_beat == content.ticks_per_beat
    windows = segments(content, 4)
    assert len(windows) == 2 and all(w.beats_per_bar == int(meter[0]) for w in windows)
    edges = np.array([w.start for w in windows])
    k = np.searchsorted(edges, out.notes["start"], side="right") - 1
    assert (k >= 0).all() and (out.notes["end"] <= np.array([w.end for w in windows])[k]).all()
    grid = content.ticks_per_beat // R
    assert ((out.notes["start"] - edges[k]) % grid == 0).all()
    (rows,) = decoded
    assert len(rows) == len(windows) * len(roles)
    np.testing.assert_array_equal(inputs[0]["bar_beats"], int(meter[0]))  # the meter, told
    assert rules == {} or max(len(r) for r in rows) > 128  # past the first cache
    # The decoding loop's cached steps gave the logits of teacher forcing.
    tokens, logits = (np.stack(v, 1) for v in zip(*fed[0], strict=True))
    teacher = np.asarray(transfer_model({**inputs[0], "tokens": tokens}))
    np.testing.assert_allclose(logits, teacher, atol=1e-4)
    # Every row decoded clean: nothing repaired.
    for row in rows:
        _, report = TOK.decode_score(row)
        assert report.repairs == 0, report
    # The same seed, the same notes.
    again = transfer_score(content, style, transfer_model, seed=0, feel=False, **rules)
    assert np.array_equal(again.notes, out.notes)
    assert all(np.array_equal(a, b) for a, b in zip(decoded[1], rows, strict=True))
