"""End to end: the shipped style-transfer model follows the song, segment by segment.

A 24-bar song of three 8-bar sections on harmonically distinct chords (C, Db, E) is
played again in the style of the bundled funk example through `groove.transfer`,
the public API, with the model shipped in the package. Each output section must
keep the harmony of its own section of the song (chroma similarity, `groove.eval`)
better than that of any other section; every section and every requested role must
play; and every decoded row must be a clean event stream (no decoder repair). A
second run with a token cap that only one row reaches checks that the cap ends that
row validly and leaves every other row exactly as it was.

The decoder's reports are not returned by `groove.transfer`, so a spy around the
public `BeatTokenizer.decode_score` (the shipped model's tokenizer) records them.
"""

from __future__ import annotations

import numpy as np
import pytest

import groove
from groove import midi
from groove.data import Style, parse_chart, render_score
from groove.eval import chroma_similarity
from groove.tokenizers import BeatTokenizer

SECTION_BARS = 8  # the shipped model's segment length; each section is one segment
CHORDS = ("C", "Db", "E")  # C-Db share no pitch class, E shares one with each
BEATS = 4 * SECTION_BARS  # the song is in 4/4
ROLES = ["bass", "piano", "guitar", "drums"]  # every role the bundled style example plays
TRACKS = {"Bass": False, "Piano": False, "Guitar": False, "Drums": True}  # name: is_drum
SEED = 0


def spy_decode(calls: list):
    """A stand-in for `BeatTokenizer.decode_score` that records (ids, report) per call."""
    original = BeatTokenizer.decode_score

    def spy(self, ids, **kwargs):
        score, report = original(self, ids, **kwargs)
        calls.append((np.asarray(ids).copy(), report))
        return score, report

    return spy


def run_transfer(song_path, **kwargs):
    calls: list = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BeatTokenizer, "decode_score", spy_decode(calls))
        pm = groove.transfer(
            song_path, groove.example_path("style.mid"), roles=ROLES, seed=SEED, **kwargs
        )
    return midi.load(pm), calls


@pytest.fixture(scope="module")
def song_path(tmp_path_factory):
    chart = parse_chart(" ".join(f"| {c} " * SECTION_BARS for c in CHORDS) + "|")
    path = tmp_path_factory.mktemp("e2e_transfer") / "song.mid"
    midi.save(render_score(chart, Style.random(5, meter="4/4"), 0), path)
    return path


@pytest.fixture(scope="module")
def full(song_path):
    """(output Score, decode calls) of the uncapped transfer."""
    return run_transfer(song_path)


@pytest.fixture(scope="module")
def capped(song_path, full):
    """A second run whose token cap only the longest row reaches, with a note
    sounding at the cap: `(output, calls, cap)`."""
    _, calls = full
    lengths = sorted((len(ids), i) for i, (ids, _) in enumerate(calls))
    (second, _), (longest, row) = lengths[-2], lengths[-1]
    # A cap strictly between the two longest rows, with a choice of places.
    assert longest > second + 2, f"no single longest row to cap: {lengths}"
    ids = calls[row][0]
    tok = BeatTokenizer()
    sounding, caps = 0, []
    for n, token in enumerate(tok.ids_to_tokens(ids), 1):
        if "_ON_" in token:
            sounding += 1
        elif "_OFF_" in token:
            sounding -= 1
        if second < n < longest and sounding > 0:
            caps.append(n)
    assert caps, "the longest row never holds a note past the other rows' ends"
    cap = caps[len(caps) // 2]
    out, capped_calls = run_transfer(song_path, max_tokens=cap)
    return out, capped_calls, cap


def section(score: midi.Score, k: int) -> midi.Score:
    """Section k of a 4/4 score (notes starting in its bars), moved to time 0."""
    beats = score.beats(score.notes["start"])
    notes = score.notes[(beats >= k * BEATS) & (beats < (k + 1) * BEATS)].copy()
    shift = round(k * BEATS * score.ticks_per_beat)
    notes["start"] -= shift
    notes["end"] = np.minimum(notes["end"] - shift, BEATS * score.ticks_per_beat)
    return score.replace(notes=notes)


def cells(score: midi.Score) -> dict[tuple[int, str], np.ndarray]:
    """The notes of every (section, track name), as (start, end, pitch, velocity) rows."""
    out = {}
    beats = score.beats(score.notes["start"])
    for k in range(len(CHORDS)):
        for i, track in enumerate(score.tracks):
            m = (score.notes["track"] == i) & (beats >= k * BEATS) & (beats < (k + 1) * BEATS)
            n = score.notes[m]
            out[k, track.name] = np.stack(
                [n["start"], n["end"], n["pitch"], n["velocity"]], axis=1
            ).astype(np.int64)
    return out


def test_each_output_section_keeps_the_harmony_of_its_own_section(song_path, full):
    out, _ = full
    song = midi.load(song_path)
    songs = [section(song, k) for k in range(len(CHORDS))]
    outs = [section(out, k) for k in range(len(CHORDS))]
    # The sections of the song really are distinct (else the test would prove nothing).
    for j in range(len(CHORDS)):
        for k in range(j + 1, len(CHORDS)):
            assert chroma_similarity(songs[j], songs[k]) < 0.4
    sim = np.array([[chroma_similarity(o, s) for s in songs] for o in outs])
    for k in range(len(CHORDS)):
        others = np.delete(sim[k], k)
        assert sim[k, k] > others.max() + 0.05, (
            f"output section {k} ({CHORDS[k]}) follows another section of the song:\n"
            f"{np.round(sim, 3)}"
        )


def test_every_section_and_every_requested_role_plays(song_path, full):
    out, _ = full
    song = midi.load(song_path)
    assert {t.name: t.is_drum for t in out.tracks} == TRACKS
    for (k, name), notes in cells(out).items():
        assert len(notes) > 0, f"{name} is silent in section {k} ({CHORDS[k]})"
    # On the song's own tempo map, and nothing past its last bar or across a section.
    assert out.tempos["tick"].tolist() == song.tempos["tick"].tolist()
    np.testing.assert_allclose(out.tempos["qpm"], song.tempos["qpm"], rtol=1e-9)
    start, end = out.beats(out.notes["start"]), out.beats(out.notes["end"])
    assert (end > start).all() and end.max() <= len(CHORDS) * BEATS + 1e-9
    assert (end <= (np.floor(start / BEATS) + 1) * BEATS + 1e-9).all()


def test_every_row_decodes_without_a_repair(full):
    """The event grammar's promise: each (segment, role) stream is clean."""
    _, calls = full
    assert len(calls) == len(CHORDS) * len(ROLES)  # one decoded row per section and role
    for ids, report in calls:
        assert report.repairs == 0, f"{report} for a row of {len(ids)} tokens"
        assert report.notes > 0


def test_a_row_at_the_token_cap_ends_validly_and_the_others_are_unchanged(full, capped):
    out_full, calls_full = full
    out, calls, cap = capped
    # One row was cut (at the cap, or a token or two before it: the grammar keeps
    # tokens in reserve to release its notes); every other row is exactly as before.
    lengths = sorted(len(ids) for ids, _ in calls)
    assert lengths[-1] <= cap and lengths[-2] < lengths[-1]
    before = sorted(tuple(ids.tolist()) for ids, _ in calls_full)
    after = sorted(tuple(ids.tolist()) for ids, _ in calls)
    assert len(set(before) - set(after)) == 1 and len(set(after) - set(before)) == 1
    assert len(next(iter(set(after) - set(before)))) == lengths[-1]
    (was,), (cut,) = set(before) - set(after), set(after) - set(before)
    # Its ids are the uncapped row's up to the last 3, where the cap's reserve of
    # tokens narrows the choice (a velocity needs 3 left, a pitched NOTE_ON 2).
    assert cut[: len(cut) - 3] == was[: len(cut) - 3]
    # In the music: one (section, role) differs, and it is what it was up to its end.
    a, b = cells(out_full), cells(out)
    assert a.keys() == b.keys()
    changed = [key for key in a if not np.array_equal(a[key], b[key])]
    assert len(changed) == 1, changed
    short, long = b[changed[0]], a[changed[0]]
    assert 0 < len(short) <= len(long)
    # So every note but those struck in the last 3 tokens was in the uncapped row.
    new_notes = {tuple(r) for r in short[:, [0, 2, 3]]} - {tuple(r) for r in long[:, [0, 2, 3]]}
    assert len(new_notes) <= 3 and len(short) - len(new_notes) > 0, new_notes
    # Still valid: positive lengths inside its section, no other kind of repair.
    k = changed[0][0]
    start, end = out.beats(short[:, 0]), out.beats(short[:, 1])
    assert (end > start).all() and (start >= k * BEATS).all() and (end <= (k + 1) * BEATS).all()
    capped_report = _capped_report(calls)
    assert capped_report.unmatched_note_offs == capped_report.zero_length_notes == 0
    assert capped_report.misplaced_specials == capped_report.tokens_after_eos == 0


def _capped_report(calls):
    """The decode report of the row the cap cut: the longest."""
    return max(calls, key=lambda call: len(call[0]))[1]


def test_a_row_at_the_token_cap_releases_its_notes(capped):
    _, calls, _ = capped
    capped_report = _capped_report(calls)
    assert capped_report.repairs == 0, str(capped_report)
