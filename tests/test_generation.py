"""`groove.generate` and `groove generate`: seeds, samples, the `seconds` and
`max_tokens` limits, primers, the sliding window, hostile models that must still
give valid MIDI, and errors that name what is wrong."""

from __future__ import annotations

import subprocess
import sys
import wave

import keras
import numpy as np
import pretty_midi
import pytest

import groove
from groove import midi
from groove.cli import main
from groove.errors import ConfigError, MidiError
from groove.models import build_music_transformer
from groove.models.music_transformer import task as generation
from groove.models.sampling import Sampler, masked
from groove.tokenizers import PerformanceTokenizer, get_tokenizer
from groove.tokenizers.grammar import EventGrammar
from tests.conftest import SHARED_MIDI, note_events, smf, smf_track

TOKENIZER = PerformanceTokenizer()
SPEC = {"kind": "performance", "config": TOKENIZER.get_config()}
EMPTY = np.zeros(0, np.int32)


def tiny_model(seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return build_music_transformer(len(TOKENIZER), "tiny", tokenizer=SPEC, **overrides)


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """An untrained tiny Music Transformer (context 64) and its `.keras` file."""
    model = tiny_model()
    path = tmp_path_factory.mktemp("lm") / "lm.keras"
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def hostile():
    """Random weights far from any trained model's, and a head that pushes the ids an
    event stream must not have where they are invalid: PAD, BOS, NOTE_OFF."""
    model = tiny_model(seed=1)
    rng = np.random.default_rng(1)
    for w in model.weights:
        w.assign(rng.normal(0.0, 2.0, w.shape).astype("float32"))
    bias = model.head.bias.numpy()
    bias[[TOKENIZER.pad_id, TOKENIZER.bos_id]] += 30.0
    bias[[TOKENIZER.token_to_id(f"NOTE_OFF_{p}") for p in range(128)]] += 10.0
    model.head.bias.assign(bias)
    return model


def notes(pm):
    """Every note as (start, end, pitch, velocity), times rounded to the 1 ms tick."""
    return sorted(
        (round(n.start, 3), round(n.end, 3), n.pitch, n.velocity)
        for inst in pm.instruments
        for n in inst.notes
    )


def check_valid(pm, path, program=0):
    """`pm` is playable MIDI: groove writes it and reads back the same notes, and
    pretty_midi reads back the same onsets."""
    assert isinstance(pm, pretty_midi.PrettyMIDI)
    midi.save(pm, path)
    score = midi.load(path)
    start, end = score.seconds(score.notes["start"]), score.seconds(score.notes["end"])
    table = zip(start, end, score.notes["pitch"], score.notes["velocity"])
    assert sorted((round(s, 3), round(e, 3), int(p), int(v)) for s, e, p, v in table) == notes(pm)
    # pretty_midi pairs the NOTE_OFFs of overlapping notes of one pitch its own way
    # (one NOTE_OFF ends them all), so only the onsets must be the same.
    back = pretty_midi.PrettyMIDI(str(path))
    assert sorted(n[::2] for n in notes(back)) == sorted(n[::2] for n in notes(pm))
    for inst in back.instruments:
        assert not inst.is_drum and inst.program == program
        for n in inst.notes:
            assert n.end > n.start >= 0
            assert 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127


class HoldOneNote(Sampler):
    """Ignores the model: plays middle C and holds it with the longest shifts the
    grammar allows, releases it when it must, then ends. Probes where generation stops.
    One instance per generation: it remembers, per row, whether the note sounds."""

    codes = TOKENIZER.codes
    on = TOKENIZER.token_to_id("NOTE_ON_60")
    off = TOKENIZER.token_to_id("NOTE_OFF_60")
    shifts = np.array([TOKENIZER.token_to_id(f"TIME_SHIFT_{s}") for s in range(1, 101)])

    def __init__(self):
        self.sounding = self.played = None

    def __call__(self, logits, rng):
        ok_rows = np.isfinite(logits)
        if self.sounding is None:
            self.sounding = np.zeros(len(ok_rows), bool)
            self.played = np.zeros(len(ok_rows), bool)
        out = []
        for row, ok in enumerate(ok_rows):
            shifts = self.shifts[ok[self.shifts]]
            if self.sounding[row] and len(shifts):
                out.append(shifts[-1])
            elif self.sounding[row]:
                out.append(self.off)
                self.sounding[row] = False
            elif ok[self.on] and not self.played[row]:
                out.append(self.on)
                self.sounding[row] = self.played[row] = True
            else:
                out.append(TOKENIZER.eos_id if ok[TOKENIZER.eos_id] else shifts[-1])
        return np.array(out)


# --------------------------------------------------------------- samples and seeds


def test_one_sample_or_many_come_as_a_list_of_pretty_midi(lm, tmp_path):
    model, _ = lm
    one = groove.generate(model=model, seconds=2, seed=0)
    assert isinstance(one, list) and len(one) == 1
    [pm] = one
    assert isinstance(pm, pretty_midi.PrettyMIDI) and notes(pm)
    check_valid(pm, tmp_path / "one.mid")
    pms = groove.generate(model=model, seconds=2, seed=0, num_samples=3)
    assert isinstance(pms, list) and len(pms) == 3
    assert all(isinstance(p, pretty_midi.PrettyMIDI) for p in pms)
    assert len({tuple(notes(p)) for p in pms}) == 3  # the samples of a batch differ


def test_the_same_seed_gives_the_same_music_and_another_seed_other_music(lm):
    model, _ = lm
    pair = (model, TOKENIZER)
    first, again, other = (
        notes(*groove.generate(model=pair, seconds=2, seed=seed)) for seed in (5, 5, 6)
    )
    assert first and first == again
    assert other != first


def test_greedy_decoding_ignores_the_seed(lm):
    model, _ = lm
    greedy = {"max_tokens": 60, "temperature": 0}
    a, b = (notes(*groove.generate(model=model, seed=s, **greedy)) for s in (1, 2))
    assert a and a == b


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")  # BOS alone
def test_cached_decoding_picks_what_rerunning_the_whole_prefix_picks(lm):
    """Greedy: the ids from the key/value cache are those of a full pass per token."""
    model, _ = lm
    steps = 40  # within the context: no window slide
    (ids,) = generation.generate_ids(model, TOKENIZER, EMPTY, steps, generation.make_sampler(0))
    grammar = EventGrammar(TOKENIZER.codes, np.ones((1, 128), bool), np.array([10**12]), steps)
    history, expected = [TOKENIZER.bos_id], []
    while not grammar.done.all():
        out = keras.ops.convert_to_numpy(model(np.array([history], "int32")))[:, -1]
        token = masked(out, grammar.allowed()).argmax(axis=-1)
        grammar.update(token)
        history.append(int(token[0]))
        expected.append(int(token[0]))
    assert TOKENIZER.eos_id not in expected[:-1]
    assert ids.tolist() == [t for t in expected if t != TOKENIZER.eos_id]


# ------------------------------------------------------------ seconds, max_tokens


@pytest.mark.parametrize(
    "seconds",
    [
        0.5,
        2.0,
        3.25,
        0.56,  # 0.56 / 0.01 is 56.00000000000001: still 56 steps
    ],
)
def test_a_held_note_is_released_exactly_at_seconds(lm, seconds):
    model, _ = lm
    (ids,) = generation.generate_ids(
        model, TOKENIZER, EMPTY, 1000, HoldOneNote(), seed=0, seconds=seconds
    )
    ((start, end, pitch, _),) = notes(TOKENIZER.decode(ids))
    assert (start, pitch) == (0.0, 60)
    assert end == pytest.approx(seconds, abs=1e-6)


def test_every_note_ends_by_seconds(lm):
    model, _ = lm
    for seconds in (0.3, 1.5):
        pms = groove.generate(model=model, seconds=seconds, seed=3, num_samples=4)
        assert any(notes(pm) for pm in pms)
        for pm in pms:
            assert all(end <= seconds + 1e-6 for _, end, _, _ in notes(pm))


def test_max_tokens_caps_every_sample(lm):
    model, _ = lm
    sampler = generation.make_sampler(1.0)
    ids = generation.generate_ids(model, TOKENIZER, EMPTY, 7, sampler, seed=0, num_samples=5)
    assert len(ids) == 5 and max(len(row) for row in ids) == 7
    # A note held on and on is released before the cap, with the last token: NOTE_ON,
    # 3 one-second shifts, NOTE_OFF. Nothing is left for the decoder to close.
    (ids,) = generation.generate_ids(model, TOKENIZER, EMPTY, 5, HoldOneNote())
    assert len(ids) == 5
    _, report = TOKENIZER.decode_score(ids)
    assert report.repairs == 0
    assert [n[:3] for n in notes(TOKENIZER.decode(ids))] == [(0.0, 3.0, 60)]


def test_generation_slides_its_window_past_the_context(lm, tmp_path):
    """Context 64, 200 tokens: with EOS made unlikely every sample runs to the cap."""
    model = tiny_model(seed=2)
    bias = model.head.bias.numpy()
    bias[TOKENIZER.eos_id] = -30.0
    model.head.bias.assign(bias)
    ids = generation.generate_ids(
        model, TOKENIZER, EMPTY, 200, generation.make_sampler(1.0), seed=0, num_samples=3
    )
    assert [len(row) for row in ids] == [200, 200, 200]
    for k, row in enumerate(ids):
        score, report = TOKENIZER.decode_score(row)
        assert len(score.notes) and report.unmatched_note_offs == 0
        check_valid(TOKENIZER.decode(row), tmp_path / f"{k}.mid")


# ------------------------------------------------------------------------- primers


def continuation(out, heard):
    """The notes of `out` after the primer notes `heard`, each of which must be there."""
    new = list(out)
    for n in heard:
        new.remove(n)  # raises if a primer note is missing or changed
    return new


def test_the_output_starts_with_the_primer_and_ends_seconds_after_it(lm):
    model, _ = lm
    primer = groove.example_path("chorale.mid")
    heard = TOKENIZER.decode(TOKENIZER.encode(TOKENIZER.prepare(primer)))
    end = heard.get_end_time()
    out = notes(*groove.generate(primer, model, seconds=2, max_tokens=600, seed=0))
    new = continuation(out, notes(heard))
    assert new and all(start >= end - 1e-6 for start, _, _, _ in new)
    assert all(note_end <= end + 2 + 1e-6 for _, note_end, _, _ in out)


def test_a_held_note_continues_a_primer_until_seconds_after_its_end(lm):
    model, _ = lm
    primer = TOKENIZER.encode(TOKENIZER.prepare(groove.example_path("chorale.mid")))
    (ids,) = generation.generate_ids(model, TOKENIZER, primer, 1000, HoldOneNote(), seconds=1)
    score, report = TOKENIZER.decode_score(np.concatenate([primer, ids]))
    assert report.unmatched_note_offs == 0
    heard = TOKENIZER.decode(primer)
    assert notes(TOKENIZER.decode(ids))[0][:3] == (0.0, 1.0, 60)
    assert len(score.notes) == len(notes(heard)) + 1


def test_a_primer_longer_than_max_tokens_is_tracked_to_its_end(lm):
    model, _ = lm
    primer = TOKENIZER.encode(TOKENIZER.prepare(groove.example_path("chorale.mid")))
    assert len(primer) > 80  # the cap `seconds=1` implies
    (ids,) = generation.generate_ids(model, TOKENIZER, primer, 80, HoldOneNote(), seconds=1)
    _, report = TOKENIZER.decode_score(np.concatenate([primer, ids]))
    assert report.unmatched_note_offs == 0
    assert notes(TOKENIZER.decode(ids))[0][:3] == (0.0, 1.0, 60)


def test_a_multitrack_primer_with_drums_is_continued_on_one_track(lm, tmp_path):
    path = SHARED_MIDI / "miditok" / "multitrack" / "d8faddb8596fff7abb24d78666f73e4e.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    model, _ = lm
    [pm] = groove.generate(path, model, seconds=1, max_tokens=8000, seed=0, program=24)
    assert len(pm.instruments) == 1  # drums are left out, the rest merged
    heard = TOKENIZER.decode(TOKENIZER.encode(TOKENIZER.prepare(path)))
    new = continuation(notes(pm), notes(heard))
    assert all(start >= heard.get_end_time() - 1e-6 for start, _, _, _ in new)
    check_valid(pm, tmp_path / "out.mid", program=24)


# ----------------------------------------------------------------- hostile models


@pytest.mark.parametrize("seconds", [None, 3.0])
def test_a_hostile_model_at_a_high_temperature_still_gives_valid_midi(hostile, seconds, tmp_path):
    sampler = generation.make_sampler(5.0)
    batch = generation.generate_ids(
        hostile, TOKENIZER, EMPTY, 300, sampler, seed=0, num_samples=12, seconds=seconds
    )
    assert any(len(ids) for ids in batch)
    for k, ids in enumerate(batch):
        _, report = TOKENIZER.decode_score(ids)
        # The grammar kept out what the head pushed for: no PAD or BOS, no stray NOTE_OFF.
        assert report.misplaced_specials == 0 and report.unmatched_note_offs == 0
        assert not np.isin(ids, [TOKENIZER.pad_id, TOKENIZER.bos_id, TOKENIZER.eos_id]).any()
        pm = TOKENIZER.decode(ids, program=33)
        check_valid(pm, tmp_path / f"{k}.mid", program=33)
        if seconds is not None:
            assert all(end <= seconds + 1e-6 for _, end, _, _ in notes(pm))


def test_generate_with_a_hostile_model_and_top_k_or_top_p(hostile, tmp_path):
    for k, knobs in enumerate([{"top_k": 5}, {"top_p": 0.9}, {"temperature": 0}]):
        pms = groove.generate(model=(hostile, TOKENIZER), max_tokens=100, seed=0, num_samples=2,
                              program=5, **knobs)  # fmt: skip
        for j, pm in enumerate(pms):
            check_valid(pm, tmp_path / f"{k}-{j}.mid", program=5)


# -------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"num_samples": 0}, "num_samples must be 1 to"),
        ({"seconds": 0}, "seconds must be more than 0"),
        ({"seconds": -1.0}, "seconds must be more than 0"),
        ({"max_tokens": 0}, "max_tokens must be 1 to"),
        ({"temperature": -1.0}, "temperature must be a finite number above 0"),
        ({"top_k": 3, "top_p": 0.5}, "top_k or top_p"),
        ({"top_k": 0}, "top_k must be at least 1"),
        ({"top_p": 1.5}, "top_p must be in"),
    ],
)
def test_bad_settings_are_config_errors(lm, kwargs, reason):
    model, _ = lm
    with pytest.raises(ConfigError, match=reason):
        groove.generate(model=model, **{"max_tokens": 10, **kwargs})


def write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: write(d / "silent.mid", smf([smf_track([])])), "no notes to continue"),
        (lambda d: write(d / "drums.mid", smf([smf_track(note_events(36, channel=9))])),
         "no notes to continue"),
        (lambda d: write(d / "garbage.mid", b"this is not a MIDI file" * 8), "not a Standard MIDI"),
        (lambda d: d / "missing.mid", "no such file"),
    ],
    ids=["no-notes", "drums-only", "garbage", "missing"],
)  # fmt: skip
def test_a_primer_that_cannot_be_continued_is_a_midi_error_naming_it(lm, tmp_path, make, reason):
    model, _ = lm
    path = make(tmp_path)
    with pytest.raises(MidiError, match=reason) as info:
        groove.generate(path, model, seconds=1)
    assert str(path) in str(info.value)


def test_a_shared_empty_file_is_no_primer(lm):
    path = SHARED_MIDI / "muspy" / "empty.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    model, _ = lm
    with pytest.raises(MidiError, match=f"{path}.*no notes to continue"):
        groove.generate(path, model, seconds=1)


def test_a_model_that_is_not_there_or_not_a_music_transformer_is_a_config_error(tmp_path):
    missing = tmp_path / "nope.keras"
    with pytest.raises(ConfigError, match=f"{missing}: no such model file"):
        groove.generate(model=missing, seconds=1)
    other = tmp_path / "dense.keras"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(other)
    with pytest.raises(ConfigError, match=f"{other}: not a groove Music Transformer"):
        groove.generate(model=str(other), seconds=1)
    garbage = write(tmp_path / "garbage.keras", b"not a zip file")
    with pytest.raises(ConfigError, match=f"{garbage}: not a groove Music Transformer"):
        groove.generate(model=garbage, seconds=1)


def test_seconds_needs_a_tokenizer_timed_in_seconds():
    beat = get_tokenizer("beat")
    keras.utils.set_random_seed(0)
    model = build_music_transformer(
        len(beat), "tiny", tokenizer={"kind": beat.kind, "config": beat.get_config()}
    )
    with pytest.raises(ConfigError, match="seconds needs a tokenizer timed in seconds"):
        groove.generate(model=model, seconds=1)


def test_a_style_conditioned_model_generates_with_its_style_vector(tmp_path):
    model = tiny_model(style_dim=4)
    [a] = groove.generate(model=model, max_tokens=40, seed=0, style=np.zeros(4))
    [b] = groove.generate(model=model, max_tokens=40, seed=0, style=np.full(4, 3.0))
    check_valid(a, tmp_path / "a.mid")
    assert notes(a) != notes(b)


def test_a_style_conditioned_model_without_its_style_is_a_config_error():
    with pytest.raises(ConfigError, match="conditioned"):
        groove.generate(model=tiny_model(style_dim=4), max_tokens=10, seed=0)


# ----------------------------------------------------------------------------- CLI


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("groove: error:"), err
    return err[0]


def test_cli_writes_a_midi_file(lm, tmp_path, capsys):
    _, path = lm
    out = tmp_path / "out.mid"
    args = ["generate", "-o", str(out), "--seconds", "5", "--model", str(path), "--seed", "0"]
    assert main(args) == 0
    pm = pretty_midi.PrettyMIDI(str(out))
    assert notes(pm) and pm.get_end_time() <= 5.0 + 1e-6
    assert f"groove: wrote {out}" in capsys.readouterr().err
    assert main([*args[:2], str(tmp_path / "again.mid"), *args[3:]]) == 0
    assert notes(pretty_midi.PrettyMIDI(str(tmp_path / "again.mid"))) == notes(pm)  # --seed


def test_cli_numbers_the_files_of_many_samples(lm, tmp_path):
    _, path = lm
    out = tmp_path / "take.mid"
    args = ["generate", "-o", str(out), "--seconds", "2", "--model", str(path), "--seed", "1"]
    assert main([*args, "--num-samples", "2", "--primer", groove.example_path("chorale.mid")]) == 0
    assert not out.exists()
    takes = [pretty_midi.PrettyMIDI(str(tmp_path / f"take-{k}.mid")) for k in (1, 2)]
    assert notes(takes[0]) != notes(takes[1])
    assert all(len(notes(t)) > 100 for t in takes)  # the chorale, then more


def test_cli_renders_an_audible_wav_beside_the_midi(lm, tmp_path):
    pytest.importorskip("fluidsynth", reason="the FluidSynth library is not installed")
    _, path = lm
    out = tmp_path / "song.mid"
    args = ["generate", "-o", str(out), "--seconds", "3", "--model", str(path), "--seed", "0"]
    assert main([*args, "--render"]) == 0
    with wave.open(str(tmp_path / "song.wav")) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        audio = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
    assert len(audio) / channels / rate >= pretty_midi.PrettyMIDI(str(out)).get_end_time()
    assert np.sqrt(np.mean(audio**2)) > 1e-3


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["-o", "{tmp}/out.txt"], "out.txt: the output must be a .mid file"),
        (["-o", "{tmp}/o.mid", "--render", "{tmp}/x.mp3"], "x.mp3: --render writes .wav or .flac"),
        (["-o", "{tmp}/o.mid", "--render", "{tmp}/x.wav", "--num-samples", "2"], "names one file"),
        (["-o", "{tmp}/o.mid", "--num-samples", "0"], "--num-samples must be 1 to 64"),
        (["-o", "{tmp}/o.mid", "--primer", "{tmp}/missing.mid"], "missing.mid: no such file"),
        (["-o", "{tmp}/o.mid", "--seconds", "-2"], "--seconds must be more than 0"),
        (["-o", "{tmp}/o.mid", "--model", "{tmp}/none.keras"], "none.keras: no such model file"),
    ],
)
def test_cli_bad_input_is_one_error_line_and_exit_2(lm, tmp_path, capsys, extra, reason):
    _, path = lm
    args = [a.format(tmp=tmp_path) for a in extra]
    if "--model" not in args:
        args += ["--model", str(path)]
    assert main(["generate", *args]) == 2
    assert reason in one_error_line(capsys)
    assert not any(p.suffix in (".mid", ".wav") for p in tmp_path.iterdir())


JAX_GREEDY = """
import sys
import numpy as np
from groove.models import saving
from groove.models.music_transformer import task as generation
model, tokenizer = saving.load(sys.argv[1], "music_transformer")
ids = generation.generate_ids(model, tokenizer, np.zeros(0, np.int32), 60,
                              generation.make_sampler(0), seed=0, num_samples=2)
np.save(sys.argv[2], np.stack([np.pad(i, (0, 60 - len(i)), constant_values=-1) for i in ids]))
"""


def test_jax_generates_the_same_greedy_tokens_as_tensorflow(lm, tmp_path):
    """A `.keras` file decodes alike under both back ends (JAX runs the compiled step)."""
    import os

    from tests.conftest import run_child

    pytest.importorskip("jax")
    model, path = lm
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    run_child(JAX_GREEDY, [str(path), str(tmp_path / "jax.npy")], env)
    ours = generation.generate_ids(model, TOKENIZER, EMPTY, 60, generation.make_sampler(0),
                                   seed=0, num_samples=2)  # fmt: skip
    ours = np.stack([np.pad(i, (0, 60 - len(i)), constant_values=-1) for i in ours])
    np.testing.assert_array_equal(ours, np.load(tmp_path / "jax.npy"))


class EndAtOnce(Sampler):
    """Ignores the model: ends the piece whenever the grammar lets it, else waits."""

    shifts = HoldOneNote.shifts

    def __call__(self, logits, rng):
        ok = np.isfinite(logits)
        waits = np.where(ok[:, self.shifts], self.shifts, -1).max(axis=1)
        return np.where(ok[:, TOKENIZER.eos_id], TOKENIZER.eos_id, waits)


def test_with_seconds_the_piece_may_not_end_early(lm):
    model, _ = lm
    (free,) = generation.generate_ids(model, TOKENIZER, EMPTY, 100, EndAtOnce())
    assert len(free) == 0  # no time limit: the model may end at once
    (ids,) = generation.generate_ids(model, TOKENIZER, EMPTY, 100, EndAtOnce(), seconds=2.5)
    codes = TOKENIZER.codes
    assert codes.value[ids].sum() == 250  # it had to wait out all 2.5 s of shifts


FREED = """
import gc, weakref
import keras
import groove
from groove.models import build_music_transformer
from groove.tokenizers import PerformanceTokenizer
tok = PerformanceTokenizer()
keras.utils.set_random_seed(0)
model = build_music_transformer(len(tok), "tiny", tokenizer={"kind": tok.kind,
                                "config": tok.get_config()})
groove.generate(model=model, max_tokens=5, seed=0)
ref = weakref.ref(model)
del model
gc.collect()
print("freed" if ref() is None else "alive")
"""


def test_a_model_is_freed_after_generating():
    """The compiled steps are cached per model without keeping the model alive (in a
    fresh interpreter: pytest's own bookkeeping may hold objects of a test)."""
    out = subprocess.run([sys.executable, "-c", FREED], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "freed"
