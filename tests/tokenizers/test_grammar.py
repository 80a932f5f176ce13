"""`EventGrammar`'s decoding rules, held against a random "model".

Seeded random logits are fed through `groove.models.sampling.decode` with a grammar,
for `BeatTokenizer` (NOTE_OFF) and `DurationTokenizer` (DURATION) streams, many rows
and several seeds. Whatever the logits say, every row must decode without a repair
and keep the rules of issue 14: time and notes stop at the segment's end, EOS only
from `eos_from`, no note longer than `max_duration`, only the allowed keys, the
harmony mask as a logit bias, and `prime` + `steps` for the Music Transformer.

Each row's ids are decoded with `ticks_per_beat=resolution`, so one tick is one step.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from groove.models.sampling import GreedySampler, TemperatureSampler, decode
from groove.tokenizers import BeatTokenizer, DurationTokenizer
from groove.tokenizers.events import BOS, EOS, ON, SHIFT, SPECIAL
from groove.tokenizers.grammar import NO_END, EventGrammar

# Default grids, and short ones: 1-beat shifts make the NOTE_OFF note-length bound
# tight, 1-beat DURATIONs make long notes take several DURATION tokens.
TOKENIZERS = {
    "beat": BeatTokenizer(),
    "beat-short": BeatTokenizer(resolution=4, max_shift_beats=1, velocity_bins=4),
    "duration": DurationTokenizer(),
    "duration-short": DurationTokenizer(resolution=4, max_duration_beats=1, velocity_bins=4),
}
SEEDS = (0, 1, 2)
ROWS = 48
# A bass register, and a drum kit, as `groove.models.transfer.rules` gives them.
REGISTER = range(40, 53)
KIT = (128 + 36, 128 + 38, 128 + 42)


def rules(tok, rows: int = ROWS) -> dict[str, np.ndarray]:
    """Per-row options like a transfer's: segments of 2 bars of 4/4, 2 bars of 3/4 and
    1 bar of 3/4 (EOS from the last bar); any pitch, a register, a kit, or everything;
    notes at most a 16th, a beat, three beats, or unlimited."""
    r = tok.resolution
    i = np.arange(rows)
    beats, bar = np.array([8, 6, 3])[i % 3], np.array([4, 3, 3])[i % 3]
    keys = np.zeros((rows, 256), bool)
    kind = i % 4
    keys[kind == 0, :128] = True
    keys[np.ix_(kind == 1, REGISTER)] = True
    keys[np.ix_(kind == 2, KIT)] = True
    keys[kind == 3] = True
    longest = np.array([max(r // 4, 1), r, 3 * r, NO_END])[(i // 3) % 4]
    return {"keys": keys, "end_steps": beats * r, "eos_from": (beats - bar) * r,
            "max_duration": longest}  # fmt: skip


def random_model(tok, rows: int, seed: int, eos: float | None = None, shift: float = 2.0):
    """A "model" whose logits are fresh Gaussian noise at every step (TIME_SHIFTs
    raised by `shift` so rows reach their end; EOS set to `eos` when given): the
    first logits and the `step` function `decode` takes."""
    rng = np.random.default_rng(seed)
    raise_shift = np.where(tok.codes.kind == SHIFT, shift, 0.0)

    def logits(_token=None):
        x = rng.normal(0.0, 2.0, (rows, len(tok.codes.kind))) + raise_shift
        if eos is not None:
            x[:, tok.eos_id] = eos
        return x

    return logits(), logits


def generate(tok, grammar: EventGrammar, seed: int, sampler=None, **model) -> list[np.ndarray]:
    first, step = random_model(tok, len(grammar.done), seed, **model)
    sampler = sampler or TemperatureSampler()
    return decode(step, first, grammar, sampler, np.random.default_rng(seed + 100), tok.eos_id)


@functools.cache
def sampled(name: str, eos: float | None, seed: int, max_tokens: int = 400):
    """`(rules, rows of ids)` of one random run (cached: several tests read it)."""
    tok = TOKENIZERS[name]
    options = rules(tok)
    keys, end = options.pop("keys"), options.pop("end_steps")
    grammar = EventGrammar.for_tokenizer(tok, keys, end, max_tokens, **options)
    options.update(keys=keys, end_steps=end)
    return options, generate(tok, grammar, seed, eos=eos)


def notes(tok, ids: np.ndarray):
    """`(on, off, key, report)` of a row in steps; keys 128+ are drums."""
    score, report = tok.decode_score(ids, ticks_per_beat=tok.resolution)
    n = score.notes
    drum = np.array([t.is_drum for t in score.tracks] + [False], bool)[n["track"]]
    key = n["pitch"].astype(np.int64) + 128 * drum
    return n["start"].astype(np.int64), n["end"].astype(np.int64), key, report


def end_time(tok, ids: np.ndarray) -> int:
    """Where a row's time stands after its last token, in steps."""
    return int(tok.codes.value[ids][tok.codes.kind[ids] == SHIFT].sum())


def runs(eos_values=(None, -30.0, 30.0)):
    """(tokenizer, EOS logit) pairs: as random, never wanted, always wanted."""
    return [pytest.param(name, eos, id=f"{name}-eos{eos}") for name in TOKENIZERS
            for eos in eos_values]  # fmt: skip


# ------------------------------------------------------------------ clean streams


@pytest.mark.parametrize(("name", "eos"), runs())
def test_every_row_decodes_without_a_repair(name, eos):
    tok = TOKENIZERS[name]
    for seed in SEEDS:
        _, rows = sampled(name, eos, seed)
        for ids in rows:
            kind = tok.codes.kind[ids]
            assert not np.isin(kind, [SPECIAL, BOS, EOS]).any()
            _, _, _, report = notes(tok, ids)
            assert report.repairs == 0, (seed, str(report), tok.ids_to_tokens(ids))


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("max_tokens", [1, 2, 3, 5, 8, 13, 30])
def test_rows_cut_by_max_tokens_still_decode_cleanly(name, max_tokens):
    """The reserve: a row cut at `max_tokens` has switched every note off (NOTE_OFF
    streams) and given every note its DURATION (DURATION streams). No shift boost
    and no EOS, so rows are dense with notes when the cap comes."""
    tok = TOKENIZERS[name]
    cut = 0
    for seed in SEEDS:
        options = rules(tok)
        keys, end = options.pop("keys"), options.pop("end_steps")
        grammar = EventGrammar.for_tokenizer(tok, keys, end, max_tokens, **options)
        for ids in generate(tok, grammar, seed, eos=-30.0, shift=-2.0):
            assert len(ids) <= max_tokens
            cut += len(ids) == max_tokens
            report = notes(tok, ids)[3]
            assert report.repairs == 0, (max_tokens, str(report), tok.ids_to_tokens(ids))
    assert cut > len(SEEDS) * ROWS // 2  # the cap, not EOS, ended most rows


# --------------------------------------------------------------------- time rules


@pytest.mark.parametrize(("name", "eos"), runs())
def test_no_note_sounds_past_the_end(name, eos):
    """Time never passes `end_steps`, nor does any pitched note; a drum hit of a
    DURATION stream (a fixed `drum_steps` long when decoded) starts before it."""
    tok = TOKENIZERS[name]
    reached = 0
    for seed in SEEDS:
        options, rows = sampled(name, eos, seed)
        for ids, end in zip(rows, options["end_steps"], strict=True):
            assert end_time(tok, ids) <= end
            reached += end_time(tok, ids) == end
            on, off, key, _ = notes(tok, ids)
            assert (on < end).all()
            timed = key < 128 if isinstance(tok, DurationTokenizer) else np.ones(len(key), bool)
            assert (off[timed] <= end).all(), (end, off.max())
    assert reached > 0 or eos == 30.0  # (rows that want EOS end early)


@pytest.mark.parametrize(("name", "eos"), runs())
def test_eos_only_from_eos_from(name, eos):
    """A row that ends (shorter than `max_tokens`) ends at `eos_from` or later; with
    EOS never wanted it ends exactly at the end; with EOS always wanted, before it."""
    tok = TOKENIZERS[name]
    ended_early = 0
    for seed in SEEDS:
        options, rows = sampled(name, eos, seed)
        for ids, start, end in zip(rows, options["eos_from"], options["end_steps"], strict=True):
            if len(ids) == 400:  # cut, not ended
                continue
            t = end_time(tok, ids)
            assert t >= start, (t, start, end)
            ended_early += t < end
            if eos == -30.0:
                assert t == end
    if eos == 30.0:
        assert ended_early > len(SEEDS) * ROWS // 2


# ------------------------------------------------------------------- note lengths


def _overlapped(on, off, key) -> np.ndarray:
    """Notes that overlap another note of their key."""
    same = key[:, None] == key[None, :]
    overlap = (on[:, None] < off[None, :]) & (on[None, :] < off[:, None])
    np.fill_diagonal(overlap, False)
    return (same & overlap).any(axis=1)


@pytest.mark.parametrize("name", TOKENIZERS)
def test_no_note_is_longer_than_max_duration(name):
    """DURATION streams: a pitched note lasts at most `max_duration` steps.

    NOTE_OFF streams: a note that has sounded `max_duration` steps must be switched
    off before time moves on, and time moves by at most one longest TIME_SHIFT from
    a time before that, so a note lasts at most `max_duration + max_shift - 1`
    steps; the bound is exact (some note reaches it). (A note whose key is struck
    again while it sounds is left out: see `test_a_struck_again_note_is_bounded_too`.)
    """
    tok = TOKENIZERS[name]
    durations = isinstance(tok, DurationTokenizer)
    slack = 0 if durations else tok.codes.max_shift - 1
    reached = 0
    for eos in (None, -30.0):
        for seed in SEEDS:
            options, rows = sampled(name, eos, seed)
            for ids, longest in zip(rows, options["max_duration"], strict=True):
                on, off, key, _ = notes(tok, ids)
                checked = key < 128 if durations else ~_overlapped(on, off, key)
                length = (off - on)[checked]
                if longest == NO_END or not len(length):
                    continue
                assert length.max() <= longest + slack, (longest, slack, length.max())
                reached += (length == longest + slack).sum()
    # Exact: some note reaches the bound (one-beat shifts make that likely; two-beat
    # ones, at the right moment, rare).
    assert reached > 0 or name == "beat"


@pytest.mark.parametrize("name", ["duration", "duration-short"])
def test_duration_streams_never_strike_a_sounding_key_again(name):
    """DURATION streams: a pitched key sounds one note at a time, and a drum is hit
    at most once a step."""
    tok = TOKENIZERS[name]
    for eos in (None, -30.0):
        for seed in SEEDS:
            for ids in sampled(name, eos, seed)[1]:
                on, off, key, _ = notes(tok, ids)
                pitched = key < 128
                assert not _overlapped(on[pitched], off[pitched], key[pitched]).any()
                hits = list(zip(on[~pitched].tolist(), key[~pitched].tolist(), strict=True))
                assert len(hits) == len(set(hits))


def test_a_struck_again_note_is_bounded_too():
    """A bigram "model" that strikes NOTE_ON_60 after every shift and shifts after
    every NOTE_ON, and never wants NOTE_OFF_60 much. The grammar times the key from
    its latest onset, while the decoder (first in, first out) ends the oldest note,
    which sounds for as long as the key is struck again."""
    tok = TOKENIZERS["beat-short"]
    keys = np.zeros((1, 256), bool)
    keys[0, :128] = True
    grammar = EventGrammar.for_tokenizer(tok, keys, np.array([64]), 200,
                                         max_duration=np.array([6]))  # fmt: skip
    on, shift, off = (tok.token_to_id(t) for t in ("NOTE_ON_60", "TIME_SHIFT_4", "NOTE_OFF_60"))

    def step(token):
        want = np.full((1, len(tok.codes.kind)), -100.0)
        want[0, [on, shift, off]] = [5.0, 10.0, 0.0] if token[0] == on else [10.0, 5.0, 0.0]
        return want

    ids = decode(step, step([shift]), grammar, GreedySampler(), None, tok.eos_id)[0]
    start, end, _, report = notes(tok, ids)
    assert report.repairs == 0
    assert (end - start).max() <= 6 + tok.codes.max_shift - 1, (end - start).tolist()


# ----------------------------------------------------------------------------- keys


@pytest.mark.parametrize(("name", "eos"), runs((None,)))
def test_only_the_allowed_keys_are_played(name, eos):
    tok = TOKENIZERS[name]
    for seed in SEEDS:
        options, rows = sampled(name, eos, seed)
        for ids, allowed in zip(rows, options["keys"], strict=True):
            _, _, key, _ = notes(tok, ids)
            assert allowed[key].all(), sorted(set(key[~allowed[key]].tolist()))
    # Each kind of row played: a register row something, a kit row its drums.
    _, rows = sampled(name, None, 0)
    played = [set(notes(tok, ids)[2].tolist()) for ids in rows]
    assert set().union(*played[1::4]) <= set(REGISTER) and set().union(*played[1::4])
    assert set().union(*played[2::4]) == set(KIT)


# -------------------------------------------------------------------------- harmony


def _grammar_with_harmony(tok, strength):
    """Three rows that can play any key: one under a harmony that changes over time,
    two under a table that allows no pitch class (so constrains nothing)."""
    table = np.zeros((3, 5, 12), bool)
    table[0, 0:2, [0, 4, 7]] = True  # C major, steps 0-1
    table[0, 2:4, 2] = True  # D only, steps 2-3; step 4 (and later) allows nothing
    keys = np.ones((3, 256), bool)
    return EventGrammar.for_tokenizer(tok, keys, np.full(3, 40), 100, harmony=table,
                                      harmony_strength=strength)  # fmt: skip


@pytest.mark.parametrize("name", ["beat", "duration"])
def test_the_harmony_bias_takes_strength_from_off_harmony_notes_only(name):
    tok = TOKENIZERS[name]
    codes = tok.codes
    grammar = _grammar_with_harmony(tok, 2.5)
    pitched = (codes.kind == ON) & (codes.key < 128)
    pc = codes.key % 12

    def expect(allowed_pcs):
        if not allowed_pcs:
            return np.zeros(len(codes.kind))
        return np.where(pitched & ~np.isin(pc, allowed_pcs), -2.5, 0.0)

    shift = tok.token_to_id("TIME_SHIFT_2")
    for step_pcs in ([0, 4, 7], [2], []):  # steps 0, 2 and 4
        bias = grammar.bias()
        assert bias.shape == (3, len(codes.kind))
        np.testing.assert_array_equal(bias[0], expect(step_pcs))
        np.testing.assert_array_equal(bias[1], 0.0)  # a row that allows no pitch class
        grammar.update(np.full(3, shift))
    # Past the table's last step (step 6, then 8) reads its last row: nothing.
    np.testing.assert_array_equal(grammar.bias(), 0.0)
    # Step 0 in detail: C major's NOTE_ONs, drums and other tokens keep their logits.
    first = _grammar_with_harmony(tok, 2.5).bias()[0]
    for token, value in [("NOTE_ON_60", 0.0), ("NOTE_ON_76", 0.0), ("NOTE_ON_61", -2.5),
                         ("NOTE_ON_2", -2.5), ("DRUM_ON_37", 0.0), ("TIME_SHIFT_1", 0.0),
                         ("EOS", 0.0)]:  # fmt: skip
        assert first[tok.token_to_id(token)] == value, token
    if name == "beat":
        assert first[tok.token_to_id("NOTE_OFF_61")] == 0.0
    else:
        assert first[tok.token_to_id("DURATION_1")] == 0.0


@pytest.mark.parametrize("name", ["beat", "duration"])
def test_no_harmony_no_bias(name):
    tok = TOKENIZERS[name]
    assert _grammar_with_harmony(tok, 0.0).bias() is None
    plain = EventGrammar.for_tokenizer(tok, np.ones((3, 256), bool), np.full(3, 40), 100)
    assert plain.bias() is None


def _harmony_run(name: str, strength: float, seed: int, rows: int = ROWS):
    """Rows of random pitched music under a random harmony table (three pitch
    classes per beat, some beats with none): the table and each row's notes."""
    tok = TOKENIZERS[name]
    r = tok.resolution
    rng = np.random.default_rng(seed)
    beats = 8
    per_beat = np.zeros((rows, beats, 12), bool)
    for i in range(rows):
        for b in range(beats):
            if rng.random() < 0.8:
                per_beat[i, b, rng.choice(12, 3, replace=False)] = True
    table = np.repeat(per_beat, r, axis=1)
    keys = np.zeros((rows, 256), bool)
    keys[:, 36:96] = True
    keys[::4, 128:] = True  # some rows may play drums too
    grammar = EventGrammar.for_tokenizer(tok, keys, np.full(rows, beats * r), 400,
                                         harmony=table, harmony_strength=strength)  # fmt: skip
    ids = generate(tok, grammar, seed, eos=-30.0)
    return table, [notes(tok, row) for row in ids]


def _off_harmony(table, row, on, key) -> np.ndarray:
    """Pitched notes whose onset's pitch class the table does not allow there (a
    step with no pitch class allows all)."""
    now = table[row, np.minimum(on, table.shape[1] - 1)]
    free = ~now.any(axis=1)
    return (key < 128) & ~now[np.arange(len(key)), key % 12] & ~free


@pytest.mark.parametrize("name", ["beat", "duration"])
def test_an_infinite_strength_never_plays_off_harmony(name):
    pitched = 0
    for seed in SEEDS:
        table, rows = _harmony_run(name, float("inf"), seed)
        for i, (on, _, key, report) in enumerate(rows):
            assert report.repairs == 0
            assert not _off_harmony(table, i, on, key).any()
            pitched += (key < 128).sum()
    assert pitched > 200, pitched


@pytest.mark.parametrize("name", ["beat", "duration"])
def test_a_strength_of_3_makes_off_harmony_notes_rarer(name):
    """Three pitch classes of twelve: random logits play off-harmony about 3 times in
    4; taking 3 nats from them (e^3 = 20) leaves about 1 in 5 (measured 0.17-0.20)."""

    def share(strength):
        table, rows = _harmony_run(name, strength, seed=7, rows=128)
        off = sum(_off_harmony(table, i, on, key).sum() for i, (on, _, key, _) in enumerate(rows))
        constrained = sum(
            ((key < 128) & table[i, np.minimum(on, table.shape[1] - 1)].any(axis=1)).sum()
            for i, (on, _, key, _) in enumerate(rows)
        )
        assert constrained > 300
        return off / constrained

    free, held = share(0.0), share(3.0)
    assert free > 0.6 and held < free / 2, (free, held)


# --------------------------------------------------------------------- note lengths


def _lengths_run(name: str, strength: float, seed: int, rows: int = 64):
    """Rows of random pitched music (no length cap but the 2-bar segment) whose
    table lists only eighth notes and whole bars: the table and each row's notes."""
    tok = TOKENIZERS[name]
    r = tok.resolution
    table = np.zeros((rows, 8 * r + 2), bool)
    table[:, [r // 2, 4 * r]] = True
    keys = np.zeros((rows, 256), bool)
    keys[:, 36:96] = True
    grammar = EventGrammar.for_tokenizer(tok, keys, np.full(rows, 8 * r), 400, lengths=table,
                                         lengths_strength=strength)  # fmt: skip
    ids = generate(tok, grammar, seed, eos=-30.0)
    return table, [notes(tok, row) for row in ids]


def _listed(table, rows, end: int, shortest: int) -> tuple[int, int]:
    """(notes of a listed length, notes) over every row: pitched notes with time for
    the shortest listed length before the end (a later one may be of any length)."""
    hits = total = 0
    for i, (on, off, key, report) in enumerate(rows):
        assert report.repairs == 0
        pitched = (key < 128) & (on <= end - shortest)
        length = np.minimum(off - on, table.shape[1] - 1)[pitched]
        hits += int(table[i, length].sum())
        total += int(pitched.sum())
    return hits, total


@pytest.mark.parametrize("name", ["duration", "duration-short"])
def test_note_lengths_follow_the_table_as_strongly_as_asked(name):
    """Random logits rarely pick one of two lengths; 3 nats make them at least twice
    as common, an infinite strength certain. "duration-short" spells a whole bar as four
    1-beat DURATIONs, so the rule must let a longest DURATION go on."""
    r = TOKENIZERS[name].resolution
    table, free = _lengths_run(name, 0.0, seed=3)
    hits, total = _listed(table, free, 8 * r, r // 2)
    assert total > 200 and hits / total < 0.3, (hits, total)
    free_share = hits / total
    # 3 nats: each unlisted length 20 times less likely (measured: 0.31 and 0.57 of
    # notes of a listed length, against 0.08 and 0.28 free); infinite: always one.
    for strength, share in ((3.0, 2 * free_share), (float("inf"), 1.0)):
        table, rows = _lengths_run(name, strength, seed=3)
        hits, total = _listed(table, rows, 8 * r, r // 2)
        assert total > 200 and hits / total >= share, (strength, hits, total)
    # Whole bars (over the longest single DURATION for "duration-short") are played.
    whole = sum(int(((off - on)[key < 128] == 4 * r).sum()) for on, off, key, _ in rows)
    assert whole > 0


def test_a_row_without_lengths_and_beat_streams_are_not_biased():
    tok = TOKENIZERS["duration"]
    table = np.zeros((2, 30), bool)
    table[0, 6] = True
    keys = np.ones((2, 256), bool)
    grammar = EventGrammar.for_tokenizer(tok, keys, np.full(2, 96), 100, lengths=table,
                                         lengths_strength=2.0)  # fmt: skip
    grammar.update(np.full(2, tok.token_to_id("NOTE_ON_60")))
    bias = grammar.bias()
    assert bias[0, tok.token_to_id("DURATION_6")] == 0.0
    assert bias[0, tok.token_to_id("DURATION_7")] == -2.0
    np.testing.assert_array_equal(bias[1], 0.0)  # nothing listed: nothing to follow
    beat = TOKENIZERS["beat"]
    plain = EventGrammar.for_tokenizer(beat, keys, np.full(2, 96), 100, lengths=table)
    assert plain.bias() is None


# --------------------------------------------------------------------------- rhythm


def _rhythm_run(name: str, strength: float, seed: int, rows: int = 64):
    """Rows of random music over 2 bars: even rows pitched, struck only on the beats
    in their table; odd rows drums, a kick on the beats and a hat on the eighths.
    The table and each row's notes."""
    tok = TOKENIZERS[name]
    r = tok.resolution
    steps = 8 * r
    table = np.zeros((rows, steps + 1, 256), bool)
    table[0::2, 0 : steps + 1 : r, :128] = True
    table[1::2, 0 : steps + 1 : r, 128 + 36] = True
    table[1::2, 0 : steps + 1 : r // 2, 128 + 42] = True
    keys = np.zeros((rows, 256), bool)
    keys[0::2, 36:96] = True
    keys[1::2, [128 + 36, 128 + 38, 128 + 42]] = True
    grammar = EventGrammar.for_tokenizer(tok, keys, np.full(rows, steps), 400, onsets=table,
                                         rhythm_strength=strength)  # fmt: skip
    ids = generate(tok, grammar, seed, eos=-30.0)
    return table, [notes(tok, row) for row in ids]


def _on_the_table(table, rows) -> tuple[int, int]:
    """(notes struck where their row's table lists their key, notes)."""
    hits = total = 0
    for i, (on, _, key, report) in enumerate(rows):
        assert report.repairs == 0
        hits += int(table[i, np.minimum(on, table.shape[1] - 1), key].sum())
        total += len(on)
    return hits, total


@pytest.mark.parametrize("name", ["beat", "duration"])
def test_the_rhythm_rule_holds_notes_to_their_tables_steps_as_strongly_as_asked(name):
    """Random logits strike anywhere (under 1 note in 10 on a listed step); 3 nats
    make listed steps at least twice as common (measured: 3 and 7 times), an
    infinite strength certain, and every row still decodes cleanly."""
    table, rows = _rhythm_run(name, 0.0, seed=5)
    hits, total = _on_the_table(table, rows)
    assert total > 300 and hits / total < 0.1, (hits, total)
    for strength, share in ((3.0, 2 * hits / total), (float("inf"), 1.0)):
        hits, total = _on_the_table(*_rhythm_run(name, strength, seed=5, rows=192))
        assert total > 40 and hits / total >= share, (strength, hits, total)


def test_the_rhythm_bias_touches_only_unlisted_note_ons_and_empty_rows_not_at_all():
    tok = TOKENIZERS["duration"]
    table = np.zeros((2, 10, 256), bool)
    table[0, 0, 60] = True
    table[0, 1, 128 + 36] = True
    keys = np.ones((2, 256), bool)
    grammar = EventGrammar.for_tokenizer(tok, keys, np.full(2, 96), 100, onsets=table,
                                         rhythm_strength=1.5)  # fmt: skip
    bias = grammar.bias()
    for token, value in [("NOTE_ON_60", 0.0), ("NOTE_ON_61", -1.5), ("DRUM_ON_36", -1.5),
                         ("TIME_SHIFT_1", 0.0), ("EOS", 0.0)]:  # fmt: skip
        assert bias[0, tok.token_to_id(token)] == value, token
    np.testing.assert_array_equal(bias[1], 0.0)  # nothing listed: nothing to follow
    # Time moves to a listed step (1), not past it to an unlisted one.
    assert bias[0, tok.token_to_id("TIME_SHIFT_2")] == -1.5
    grammar.update(np.full(2, tok.token_to_id("TIME_SHIFT_1")))
    bias = grammar.bias()
    assert bias[0, tok.token_to_id("DRUM_ON_36")] == 0.0
    assert bias[0, tok.token_to_id("NOTE_ON_60")] == -1.5
    # No listed step within reach: the longest TIME_SHIFT is free, no other.
    shifts = np.flatnonzero(tok.codes.kind == SHIFT)
    longest = shifts[np.argmax(tok.codes.value[shifts])]
    assert bias[0, longest] == 0.0
    assert (bias[0, shifts[shifts != longest]] == -1.5).all()
    # A TIME_SHIFT to the end is free: the part may rest to its end.
    end = EventGrammar.for_tokenizer(tok, keys, np.full(2, 3), 100, onsets=table,
                                     rhythm_strength=1.5)  # fmt: skip
    end.update(np.full(2, tok.token_to_id("TIME_SHIFT_1")))
    assert end.bias()[0, tok.token_to_id("TIME_SHIFT_2")] == 0.0
    no_rule = EventGrammar.for_tokenizer(tok, keys, np.full(2, 96), 100, onsets=table,
                                         rhythm_strength=0.0)  # fmt: skip
    assert no_rule.bias() is None


def test_allowed_is_computed_once_per_step_and_cannot_be_changed():
    tok = TOKENIZERS["duration"]
    grammar = EventGrammar.for_tokenizer(tok, np.ones((2, 256), bool), np.full(2, 96), 100)
    first = grammar.allowed()
    assert grammar.allowed() is first
    with pytest.raises(ValueError):
        first[0, 0] = True
    on = tok.token_to_id("NOTE_ON_60")
    assert first[0, on]
    grammar.update(np.full(2, on))
    after = grammar.allowed()
    assert after is not first and not after[0, on]  # a DURATION is owed now


# --------------------------------------------------------------------- prime, steps


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("eos", [-30.0, 30.0])
def test_prime_then_steps_ends_every_row_steps_after_the_primer(name, eos):
    """The Music Transformer's `seconds`: a primer (here with notes still sounding at
    its end), then exactly `steps` more; primer + continuation decode cleanly."""
    tok = TOKENIZERS[name]
    r = tok.resolution
    if isinstance(tok, DurationTokenizer):
        primer = f"NOTE_ON_60 DURATION_{r} TIME_SHIFT_{r} NOTE_ON_64 DURATION_{r} TIME_SHIFT_1"
    else:
        primer = f"NOTE_ON_60 TIME_SHIFT_{r} NOTE_ON_64 DRUM_ON_36 TIME_SHIFT_1"
    primer_ids = tok.tokens_to_ids(primer.split())
    primed = end_time(tok, primer_ids)
    steps = 5 * r + 1
    for seed in SEEDS:
        keys, end = np.ones((ROWS, 256), bool), np.full(ROWS, NO_END)
        grammar = EventGrammar.for_tokenizer(tok, keys, end, 600, end_early=False)
        grammar.prime(primer_ids, steps)
        for ids in generate(tok, grammar, seed, eos=eos):
            whole = np.concatenate([primer_ids, ids])
            assert len(ids) < 600
            assert end_time(tok, whole) == primed + steps
            _, off, key, report = notes(tok, whole)
            assert report.repairs == 0
            assert (off[key < 128] <= primed + steps).all()
        # `max_tokens` counts the new tokens only: 4 are enough to switch the
        # primer's notes off (or to end the row).
        grammar = EventGrammar.for_tokenizer(tok, keys, end, 4, end_early=False)
        grammar.prime(primer_ids, steps)
        for ids in generate(tok, grammar, seed, eos=eos):
            whole = np.concatenate([primer_ids, ids])
            assert len(ids) == 4 or end_time(tok, whole) == primed + steps
            assert notes(tok, whole)[3].repairs == 0
