"""`groove.models.transfer.rules`: the decoding rules of a transfer, per row.

`decoding_rules` on hand-made scores (register and kit from the style example, the
segment's end, EOS from its last bar, the longest note, the harmony table), then
the shipped model through `transfer_score`: its parts keep the style's register and
their segments, and an infinite harmony strength keeps every pitched note on the
content's pitch classes.
"""

from __future__ import annotations

import numpy as np
import pytest

import groove
from groove import midi
from groove.data.segments import pitched_score, role_score, segments
from groove.midi import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track
from groove.midi.roles import PITCHED_ROLES, role_of
from groove.models.transfer.rules import decoding_rules, harmony_table

TPB, RES = 480, 12  # ticks per beat; grid steps per beat (`BeatTokenizer`'s)
BASS, PIANO, DRUMS = Track(33, False, "Bass"), Track(0, False, "Piano"), Track(0, True, "Drums")


def score(notes: list[tuple], tracks: list[Track], meter: tuple[int, int] = (4, 4)) -> Score:
    """A Score from (start beat, end beat, pitch, track) tuples."""
    start, end, pitch, track = (np.array(c) for c in zip(*notes, strict=True))
    return Score(
        notes=midi.make_notes(np.rint(start * TPB), np.rint(end * TPB), pitch, 100, track),
        tracks=tracks,
        ticks_per_beat=TPB,
        tempos=np.array([(0, 120.0)], TEMPO_DTYPE),
        time_signatures=np.array([(0, *meter)], TIME_SIGNATURE_DTYPE),
        source="<test>",
    )


def bars_of(meter: tuple[int, int], bars: int) -> list[tuple]:
    """A content score of `bars` bars of `meter`: one C held through each bar."""
    beats = 4 * meter[0] / meter[1]
    return [(b * beats, (b + 1) * beats, 60, 0) for b in range(bars)]


# ---------------------------------------------------------------- keys (register)


def test_register_is_the_style_parts_range_widened_by_2_and_drums_its_kit():
    # Two bass tracks: the one that sounds the most (40-52) is the part; the other
    # (pitch 30) is not. Drums merge every drum track: 36, 42 and 38.
    tracks = [BASS, Track(33, False, "Fretless"), PIANO, DRUMS, Track(0, True, "Kit 2")]
    style = score([(0, 2, 40, 0), (2, 4, 45, 0), (4, 6, 52, 0), (0, 0.5, 30, 1),
                   (0, 4, 60, 2), (0, 4, 72, 2), (0, 0.25, 36, 3), (1, 1.25, 42, 3),
                   (2, 2.25, 38, 4)], tracks)  # fmt: skip
    content = score(bars_of((4, 4), 2), [PIANO])
    windows = segments(content, 2)
    pairs = [(0, "bass"), (0, "keys"), (0, "drums")]
    rules = decoding_rules(content, style, windows, pairs, RES, harmony=None)
    keys = rules["keys"]
    assert keys.shape == (3, 256)
    assert np.flatnonzero(keys[0]).tolist() == list(range(38, 55))
    assert np.flatnonzero(keys[1]).tolist() == list(range(58, 75))
    assert np.flatnonzero(keys[2]).tolist() == [128 + 36, 128 + 38, 128 + 42]
    # Without the register: any pitch for a pitched part, any drum for the drums.
    free = decoding_rules(content, style, windows, pairs, RES, harmony=None, register=False)
    assert free["keys"][:2, :128].all() and not free["keys"][:2, 128:].any()
    assert free["keys"][2, 128:].all() and not free["keys"][2, :128].any()
    # The margin stops at the ends of the MIDI range.
    edge = score([(0, 1, 0, 0), (1, 2, 127, 0)], [BASS])
    wide = decoding_rules(content, edge, windows, [(0, "bass")], RES, harmony=None)
    assert wide["keys"][0, :128].all() and not wide["keys"][0, 128:].any()


# ----------------------------------------------------------- end and EOS per meter


@pytest.mark.parametrize(("meter", "bar_steps"), [((4, 4), 48), ((3, 4), 36), ((12, 8), 72)])
def test_segments_end_on_their_bar_line_and_eos_comes_from_the_last_bar(meter, bar_steps):
    """Segments of 2 bars over 3 bars of music: a full segment and a 1-bar one."""
    content = score(bars_of(meter, 3), [PIANO], meter)
    style = score([(0, 1, 40, 0)], [BASS])
    windows = segments(content, 2)
    assert [w.bars for w in windows] == [2, 1]
    pairs = [(0, "bass"), (1, "bass"), (0, "bass")]
    rules = decoding_rules(content, style, windows, pairs, RES, harmony=None)
    assert rules["end_steps"].tolist() == [2 * bar_steps, bar_steps, 2 * bar_steps]
    assert rules["eos_from"].tolist() == [bar_steps, 0, bar_steps]


# --------------------------------------------------------------------- max_duration


@pytest.mark.parametrize(
    ("lengths", "steps"),
    [
        ([2.0] * 20, 36),  # 1.5 x 2 beats
        ([1.0] * 99 + [16.0], 18),  # one long note, past the 95th percentile: ignored
        ([0.5] * 10 + [1.0] * 10, 18),  # 95th percentile of 0.5s and 1s: 1 beat
        ([1 / 16] * 8, 3),  # 1.5 x a 64th is less than a 16th: a 16th
    ],
)
def test_the_longest_note_is_1_5_times_the_parts_95th_percentile(lengths, steps):
    style = score([(4 * i, 4 * i + n, 40, 0) for i, n in enumerate(lengths)], [BASS])
    content = score(bars_of((4, 4), 2), [PIANO])
    rules = decoding_rules(content, style, segments(content, 2), [(0, "bass")], RES,
                           harmony=None)  # fmt: skip
    assert rules["max_duration"].tolist() == [steps]


def test_each_row_takes_its_own_parts_longest_note():
    style = score([(0, 2, 40, 0), (0, 4, 60, 1), (0, 0.25, 36, 2)], [BASS, PIANO, DRUMS])
    content = score(bars_of((4, 4), 2), [PIANO])
    pairs = [(0, "bass"), (0, "keys"), (0, "drums")]
    rules = decoding_rules(content, style, segments(content, 2), pairs, RES, harmony=None)
    assert rules["max_duration"].tolist() == [36, 72, max(round(1.5 * 0.25 * RES), RES // 4)]


def test_note_lengths_are_the_parts_own_and_drums_list_none():
    # Bass: eighths and half notes (6 and 24 steps); keys: whole notes (48 steps).
    style = score([(0, 0.5, 40, 0), (1, 1.5, 43, 0), (2, 4, 45, 0), (0, 4, 60, 1),
                   (0, 0.25, 36, 2)], [BASS, PIANO, DRUMS])  # fmt: skip
    content = score(bars_of((4, 4), 2), [PIANO])
    pairs = [(0, "bass"), (0, "keys"), (0, "drums"), (1, "bass")]
    rules = decoding_rules(content, style, segments(content, 1), pairs, RES, harmony=None,
                           lengths=2.0)  # fmt: skip
    table = rules["lengths"]
    assert rules["lengths_strength"] == 2.0 and table.shape[0] == 4
    assert np.flatnonzero(table[0]).tolist() == [6, 24]
    assert np.flatnonzero(table[1]).tolist() == [48]
    assert not table[2].any()  # drum hits have no lengths: nothing to follow
    np.testing.assert_array_equal(table[3], table[0])  # per role, whatever the segment
    assert "lengths" not in decoding_rules(content, style, segments(content, 1), pairs, RES,
                                           harmony=None, lengths=0.0)  # fmt: skip


# --------------------------------------------------------------------------- rhythm


def test_rhythm_lists_the_bar_positions_the_part_strikes_and_each_drum_its_own():
    # Bass on beats 1 and 3 (steps 0 and 24) of each bar; kick on 1, snare on 2 and 4,
    # hats on every eighth; keys silent.
    style = score([(b * 4 + x, b * 4 + x + 1, 40 + x, 0) for b in range(2) for x in (0, 2)]
                  + [(b * 4, b * 4 + 0.1, 36, 1) for b in range(2)]
                  + [(b * 4 + x, b * 4 + x + 0.1, 38, 1) for b in range(2) for x in (1, 3)]
                  + [(e / 2, e / 2 + 0.1, 42, 1) for e in range(16)],
                  [BASS, DRUMS])  # fmt: skip
    content = score(bars_of((4, 4), 2), [PIANO])
    pairs = [(0, "bass"), (0, "drums"), (0, "keys")]
    rules = decoding_rules(content, style, segments(content, 2), pairs, RES, harmony=None,
                           rhythm=2.0)  # fmt: skip
    onsets = rules["onsets"]
    assert rules["rhythm_strength"] == 2.0 and onsets.shape == (3, 2 * 48 + 1, 256)
    bass = onsets[0]
    # Every pitch (not only the ones played) at the steps struck, in both bars.
    assert np.flatnonzero(bass[:, 40]).tolist() == [0, 24, 48, 72, 96]
    assert (bass[:, :128] == bass[:, 40:41]).all() and not bass[:, 128:].any()
    drums = onsets[1]
    assert np.flatnonzero(drums[:48, 128 + 36]).tolist() == [0]
    assert np.flatnonzero(drums[:48, 128 + 38]).tolist() == [12, 36]
    assert np.flatnonzero(drums[:48, 128 + 42]).tolist() == list(range(0, 48, 6))
    assert not drums[:, :128].any() and not drums[:, 128 + 40].any()
    assert not onsets[2].any()  # keys do not play: nothing to follow
    assert "onsets" not in decoding_rules(content, style, segments(content, 2), pairs, RES,
                                          harmony=None, rhythm=0.0)  # fmt: skip


def test_rhythm_of_an_example_in_another_meter_keeps_the_position_in_the_beat():
    # A 3/4 example on beats and their "and"s (steps 0 and 6 of each beat) for a 4/4
    # song: the bar positions do not carry over, the positions in the beat do.
    style = score([(x / 2, x / 2 + 0.25, 40, 0) for x in range(12)], [BASS], (3, 4))
    content = score(bars_of((4, 4), 1), [PIANO])
    rules = decoding_rules(content, style, segments(content, 1), [(0, "bass")], RES,
                           harmony=None, rhythm=2.0)  # fmt: skip
    assert np.flatnonzero(rules["onsets"][0, :, 40]).tolist() == list(range(0, 49, 6))


# -------------------------------------------------------------------------- harmony


def test_harmony_marks_pitch_classes_within_half_a_beat_of_each_content_note():
    """A C from beat 1 to beat 2 sounds at steps 12-23; half a beat (6 steps) either
    side marks steps 6-29. Off the grid, the reach widens to whole steps."""
    content = score([(1, 2, 60, 0), (1030 / TPB, 1044 / TPB, 64, 0), (1, 2, 38, 1)],
                    [PIANO, DRUMS])  # fmt: skip
    windows = segments(content, 2)
    table = harmony_table(content, windows, [(0, "keys"), (0, "drums"), (0, "bass")], RES)
    assert table.shape == (3, round(windows[0].beats * RES) + 1, 12)
    c = np.flatnonzero(table[0, :, 0])
    assert c.tolist() == list(range(6, 30))
    # E from step 25.75 to 26.1: floor(19.75) to ceil(32.1), half open.
    assert np.flatnonzero(table[0, :, 4]).tolist() == list(range(19, 33))
    # Only those: the content's drums (a 38 is a D) carry no harmony.
    assert table[0].sum(axis=0).tolist() == [24, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0]
    assert not table[1].any()  # a drum row: none, which constrains nothing
    np.testing.assert_array_equal(table[2], table[0])  # every pitched row: the same


def test_harmony_is_read_relative_to_each_segment_and_clipped_to_it():
    """A G from beat 7.5 to 8.25 crosses the bar line at beat 8 between two segments
    of 2 bars of 4/4 (3 bars in all): each segment marks it from its own start, and
    the table ends where the longest segment does."""
    content = score([(7.5, 8.25, 67, 0), (9, 12, 60, 0)], [PIANO])
    windows = segments(content, 2)
    assert [w.beats for w in windows] == [8, 4]
    table = harmony_table(content, windows, [(0, "bass"), (1, "bass")], RES)
    assert table.shape == (2, 8 * RES + 1, 12)  # the longest segment's steps + 1
    # Segment 0: steps 90 - 6 = 84 to 99 + 6 = 105, cut at its 96 steps (+ 1).
    assert np.flatnonzero(table[0, :, 7]).tolist() == list(range(84, 97))
    assert not table[0, :, 0].any()
    # Segment 1: from before its start (clipped to 0) to 3 + 6 = 9 steps.
    assert np.flatnonzero(table[1, :, 7]).tolist() == list(range(0, 9))
    # Its C (beats 9-12) reaches half a beat past its end at step 48 (rows past a
    # short segment's end are only read at its end).
    assert np.flatnonzero(table[1, :, 0]).tolist() == list(range(6, 54))


@pytest.mark.parametrize("harmony", [0, 0.0, None])
def test_no_harmony_strength_no_table(harmony):
    content = score(bars_of((4, 4), 2), [PIANO])
    style = score([(0, 1, 40, 0)], [BASS])
    rules = decoding_rules(content, style, segments(content, 2), [(0, "bass")], RES,
                           harmony=harmony)  # fmt: skip
    assert set(rules) == {"keys", "end_steps", "eos_from", "max_duration"}
    rules = decoding_rules(content, style, segments(content, 2), [(0, "bass")], RES, harmony=2)
    assert rules["harmony_strength"] == 2.0 and rules["harmony"].shape == (1, 97, 12)
    assert rules["harmony"][0, :, 0].all()  # the C sounds all through


# ------------------------------------------------------- end to end, shipped model


@pytest.fixture(scope="module")
def shipped():
    pytest.importorskip("keras")
    from groove.models import saving

    model, tokenizer = saving.resolve(None, "transfer")
    content = midi.load(groove.example_path("song.mid"))
    style = midi.load(groove.example_path("style.mid"))
    return model, tokenizer, content, style, segments(content, model.data_settings.bars)


def _roles(out: Score) -> np.ndarray:
    return np.array([role_of(t) for t in out.tracks])[out.notes["track"]]


def test_shipped_model_keeps_the_styles_register_and_its_segments(shipped):
    from groove.models.transfer.task import transfer_score

    model, tokenizer, content, style, windows = shipped
    out = transfer_score(content, style, (model, tokenizer), seed=0)
    roles = _roles(out)
    played = set(roles.tolist())
    assert {"bass", "drums"} <= played
    for role in played:
        pitch = out.notes["pitch"][roles == role]
        part = role_score(style, role).notes["pitch"]
        if role in PITCHED_ROLES:
            assert pitch.min() >= part.min() - 2 and pitch.max() <= part.max() + 2, role
        else:
            assert set(pitch.tolist()) <= set(part.tolist())
    # Every note ends by the end of the segment it starts in.
    starts = np.array([w.start for w in windows])
    ends = np.array([w.end for w in windows])
    k = np.searchsorted(starts, out.notes["start"], side="right") - 1
    assert (k >= 0).all() and (out.notes["end"] <= ends[k]).all()


def test_shipped_model_with_infinite_harmony_plays_only_the_contents_pitch_classes(shipped):
    """Each pitched note's pitch class sounds in the content within half a beat of its
    onset (a content note just across a segment line counts too), unless the content
    is silent there. The content is
    played, off the grid: the table rounds the reach out to whole grid steps, so
    "within half a beat" is within half a beat and one step here."""
    from groove.models.transfer.task import transfer_score

    model, tokenizer, content, style, windows = shipped
    out = transfer_score(content, style, (model, tokenizer), seed=0, harmony=float("inf"))
    pitched = out.notes[np.isin(_roles(out), PITCHED_ROLES)]
    assert len(pitched) > 50
    harmony = pitched_score(content).notes
    reach = content.ticks_per_beat // 2 + content.ticks_per_beat // tokenizer.resolution
    assert len(windows) > 1
    free = 0
    for note in pitched:
        close = (harmony["start"] - reach <= note["start"]) & (
            note["start"] < harmony["end"] + reach
        )
        near = harmony[close]
        if not len(near):
            free += 1
            continue
        assert note["pitch"] % 12 in set((near["pitch"] % 12).tolist()), (note, near)
    assert free < len(pitched) // 10


def test_shipped_model_with_infinite_rhythm_strikes_only_where_the_style_does(shipped):
    """With the rule absolute, every onset of a role sits at a bar position (in grid
    steps) where the style example's part strikes; drums, each sound at its own."""
    from groove.models.transfer.rules import _strikes
    from groove.models.transfer.task import transfer_score

    model, tokenizer, content, style, windows = shipped
    res = tokenizer.resolution
    out = transfer_score(content, style, (model, tokenizer), seed=0, rhythm=float("inf"))
    roles = _roles(out)
    starts = np.array([w.start for w in windows])
    bar_steps = np.array([round(w.beats_per_bar * res) for w in windows])
    played = sorted(set(roles.tolist()))
    assert {"bass", "drums"} <= set(played)
    for role in played:
        notes = out.notes[roles == role]
        k = np.searchsorted(starts, notes["start"], side="right") - 1
        steps = np.rint((notes["start"] - starts[k]) * res / out.ticks_per_beat).astype(int)
        position = steps % bar_steps[k]
        key, where, _ = _strikes(role_score(style, role), res)
        if role == "drums":
            allowed = set(zip(key.tolist(), where.tolist(), strict=True))
            got = set(zip((notes["pitch"] + 128).tolist(), position.tolist(), strict=True))
        else:
            allowed, got = set(where.tolist()), set(position.tolist())
        assert got <= allowed, (role, sorted(got - allowed))
    # Without the rule the model strikes elsewhere too: the test can fail.
    free = transfer_score(content, style, (model, tokenizer), seed=0, rhythm=0)
    bass = free.notes[_roles(free) == "bass"]
    k = np.searchsorted(starts, bass["start"], side="right") - 1
    steps = np.rint((bass["start"] - starts[k]) * res / free.ticks_per_beat).astype(int)
    assert not set((steps % bar_steps[k]).tolist()) <= set(
        _strikes(role_score(style, "bass"), res)[1].tolist()
    )


@pytest.mark.parametrize("option", ["harmony", "lengths", "rhythm"])
def test_a_negative_rule_strength_is_a_config_error(option):
    from groove.errors import ConfigError
    from groove.models.transfer.task import transfer_score

    song, style = groove.example_path("song.mid"), groove.example_path("style.mid")
    with pytest.raises(ConfigError, match=f"{option} must be 0 or more"):
        transfer_score(song, style, **{option: -1.0})
