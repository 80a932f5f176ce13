"""Regression tests for issue 15 item 5b: time-signature changes were handled in
quadratic time (50,000 changes in a 600 KB file took 32-42 s per transfer), and
every cut carried, sorted and copied the whole table."""

from __future__ import annotations

import importlib
import random
import warnings

import numpy as np
import pytest

from groove import midi
from groove.errors import GrooveWarning
from groove.midi import TIME_SIGNATURE_DTYPE
from tests.conftest import score_of, smf, smf_track

# `groove.data.segments` the module (the package exports a function of that name).
seg = importlib.import_module("groove.data.segments")

pytestmark = pytest.mark.timeout(120)


def reference_downbeats(score, end):
    """The bar lines as the former loop laid them, one change after another."""
    tpb = score.ticks_per_beat
    sigs = np.sort(score.time_signatures, order="tick", kind="stable")
    changes = [(0, 4.0)] + [
        (int(t), 4.0 * int(n) / int(d)) for t, n, d in sigs.tolist() if n > 0 and d > 0
    ]
    ticks, lengths, tick = [], [], 0.0
    for k, (_, beats_per_bar) in enumerate(changes):
        stop = changes[k + 1][0] if k + 1 < len(changes) else max(end, 1)
        bar = beats_per_bar * tpb
        n = max(int(np.ceil((stop - tick) / bar)), 0)
        ticks.append(tick + bar * np.arange(n))
        lengths.append(np.full(n, beats_per_bar))
        tick += bar * n
    bar_ticks = np.rint(np.concatenate(ticks)).astype(np.int64)
    keep = np.concatenate([[True], np.diff(bar_ticks) > 0]) if len(bar_ticks) else bar_ticks > 0
    bar_ticks, bar_beats = bar_ticks[keep], np.concatenate(lengths)[keep]
    if len(bar_ticks) == 0:
        return np.zeros(1, np.int64), np.array([4.0])
    return bar_ticks, bar_beats


@pytest.mark.parametrize("seed", range(40))
def test_downbeats_lays_the_bars_the_former_loop_laid(seed):
    rng = random.Random(seed)
    tpb = rng.choice([1, 3, 96, 480, 1000])
    end = rng.randrange(0, 60 * tpb)
    rows = [
        (
            rng.choice([0, rng.randrange(0, 70 * tpb), rng.randrange(0, 8 * tpb)]),
            rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 12, 255]),
            rng.choice([0, 1, 2, 4, 8, 16, 32, 64]),
        )
        for _ in range(rng.randrange(0, 40))
    ]
    score = score_of([(0, max(end, 1), 60, 90, 0)], tpb=tpb)
    score = score.replace(time_signatures=np.array(rows, TIME_SIGNATURE_DTYPE))
    got, want = seg.downbeats(score, end), reference_downbeats(score, end)
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], want[1])


def fifty_thousand_changes() -> bytes:
    """50,000 time signatures one tick apart (3/4 and 4/4 by turns, 400 KB), then a
    last 4/4 at tick 50,000, and 256 quarter notes on a second track."""
    sigs = [(min(i, 1), b"\xff\x58\x04" + bytes([3 + i % 2, 2, 24, 8])) for i in range(50_000)]
    sigs.append((1, b"\xff\x58\x04\x04\x02\x18\x08"))
    notes = [(0, b"\xff\x01\x00")]
    for _ in range(64 * 4):
        notes += [(0, b"\x90\x3c\x40"), (480, b"\x80\x3c\x00")]
    return smf([smf_track(sigs), smf_track(notes)])


@pytest.fixture(scope="module")
def many_changes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        return midi.load(fifty_thousand_changes())


def test_fifty_thousand_time_signature_changes_lay_the_right_bars(many_changes):
    assert len(many_changes.time_signatures) == 50_001
    lines, beats = seg.downbeats(many_changes)
    # Of the changes one tick apart, only the one in effect at each bar line lays a
    # bar: 3/4, at the even ticks where every 3/4 bar line falls. The 4/4 at tick
    # 50,000 holds from the first bar line after it.
    assert np.array_equal(lines, reference_downbeats(many_changes, many_changes.end_tick)[0])
    assert len(lines) == 73 and (np.diff(lines) > 0).all()
    assert (beats[lines < 50_000] == 3.0).all()
    assert (beats[lines >= 50_000] == 4.0).all()


def test_each_cut_carries_only_the_changes_of_its_window(many_changes):
    windows = seg.segments(many_changes, 1)
    cuts = [seg.cut(many_changes, w) for w in windows]
    rows = [len(c.time_signatures) for c in cuts]
    # Every change is in one window, plus the one in effect at each window's start:
    # not the whole table in every cut.
    assert sum(rows) <= len(many_changes.time_signatures) + len(windows)
    assert all(r == 1 for w, r in zip(windows, rows, strict=True) if w.start > 50_000)
    for w, c in zip(windows, cuts, strict=True):
        ts = c.time_signatures
        assert ts["tick"][0] == 0 and (ts["tick"] < w.end - w.start).all()
        in_effect = many_changes.time_signatures[
            np.searchsorted(many_changes.time_signatures["tick"], w.start, side="right") - 1
        ]
        assert (ts["numerator"][0], ts["denominator"][0]) == (
            in_effect["numerator"],
            in_effect["denominator"],
        )


def test_a_cut_of_an_unsorted_table_picks_the_rows_in_effect():
    score = score_of([(0, 4 * 480 * 3, 60, 90, 0)])
    table = np.array([(3840, 3, 4), (0, 4, 4), (1920, 6, 8)], TIME_SIGNATURE_DTYPE)
    window = seg.Segment(0, 1920, 3840, 1, 3.0, 480)
    cut = seg.cut(score.replace(time_signatures=table), window)
    assert cut.time_signatures.tolist() == [(0, 6, 8)]
