"""`groove eval transfer`'s systems and numbers: the overlay baseline, the musical
checks, the fixed style fit beside Groove2Groove's."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from groove import example_path, midi
from groove.cli import main
from groove.eval.baselines import loop, overlay
from groove.eval.content import chroma_similarity
from groove.eval.musical import (
    chord_tone_rate,
    duration_limit,
    held_note_rate,
    onset_phase_similarity,
    part_continuity,
)
from groove.eval.runs import evaluate_transfer
from groove.eval.style import playable, pool_profiles, style_fit, style_profiles
from groove.eval.systems import SCALARS
from groove.midi import TIME_SIGNATURE_DTYPE, Track
from groove.midi.roles import PITCHED_ROLES
from tests.conftest import score_of

BEAT = 480
BASS, KEYS, DRUMS = Track(33, False, "Bass"), Track(0, False, "Piano"), Track(0, True, "Drums")
TRUMPET = Track(56, False, "Trumpet")  # role "other": no transfer model plays it


def note(start, beats, pitch, track=0, velocity=100):
    return (round(start * BEAT), round((start + beats) * BEAT), pitch, velocity, track)


def waltz(score):
    score.time_signatures = np.array([(0, 3, 4)], TIME_SIGNATURE_DTYPE)
    return score


def folders(tmp_path: Path, **pieces) -> dict[str, Path]:
    """One folder per role of the triple (content, style, output, target), each with
    its piece saved as `name.mid`, and the folders' paths."""
    dirs = {}
    for kind, (name, score) in pieces.items():
        dirs[kind] = tmp_path / kind
        dirs[kind].mkdir()
        midi.save(score, dirs[kind] / f"{name}.mid")
    return dirs


def run(dirs: dict[str, Path]) -> dict:
    target = dirs.get("target")
    return evaluate_transfer(dirs["content"], dirs["style"], dirs["output"],
                             target_dir=target, progress=False)  # fmt: skip


# Content: a C major triad held for each of 8 bars of 4/4 (keys). Style: 2 bars of
# bass playing F# (no C major tone) on beats 1 and 3, half a beat long, and a kick
# on every beat.
CONTENT = score_of([note(4 * bar, 4, p) for bar in range(8) for p in (60, 64, 67)], [KEYS])
STYLE = score_of(
    [note(b, 0.5, 42) for b in range(0, 8, 2)] + [note(b, 0.25, 36, 1) for b in range(8)],
    [BASS, DRUMS],
)


def test_overlay_is_a_system_scored_on_the_content_and_the_looped_example(tmp_path, capsys):
    dirs = folders(tmp_path, content=("song", CONTENT), style=("funk", STYLE),
                   output=("song__funk", CONTENT))  # fmt: skip
    args = [f"--{k}={v}" for k, v in dirs.items()]
    assert main(["eval", "transfer", *args, "--report", str(tmp_path / "r.html"), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "\noverlay " in printed and "chord tones" in printed and "style fit G2G" in printed
    results = json.loads((tmp_path / "r.json").read_text())
    assert list(results["summary"]) == ["output", "source", "style", "overlay"]
    assert "overlay" in results["config"]["systems"]
    assert "overlay" in (tmp_path / "r.html").read_text()
    [triple] = results["triples"]
    numbers = triple["systems"]["overlay"]
    assert set(numbers) == set(triple["systems"]["output"])
    # The pasted example plays its own bars again: its roles' profiles are the
    # example's own; the content's chords pull the pooled ones away.
    for key in ("bass/onset_duration", "bass/onset_velocity", "drums/drums"):
        assert numbers["style_fit"][key] == pytest.approx(1.0), key
    assert numbers["style_fit"]["all/onset_duration"] < 0.9
    # 24 content notes are chord tones, the 16 pasted F# are not.
    assert numbers["chord_tone_rate"] == pytest.approx(24 / 40)
    # The style holds bass notes 0.5 beats and has no keys, so its whole limit
    # (0.5 beats) judges the keys: every 4-beat chord is held, no bass note is.
    assert numbers["held_note_rate_by_role"] == {"bass": 0.0, "keys": 1.0}
    assert numbers["held_note_rate"] == pytest.approx(24 / 40)
    # Against the example looped over the content, the overlay plays every bar;
    # the example itself plays 2 of the 8, and the content no bass nor drums.
    assert numbers["part_continuity_by_role"] == {"bass": 1.0, "drums": 1.0}
    assert triple["systems"]["style"]["part_continuity_by_role"] == {"bass": 0.25, "drums": 0.25}
    assert triple["systems"]["source"]["part_continuity"] == 0.0
    # Its content preservation is that of the overlaid piece, computed in memory.
    expected = chroma_similarity(overlay(CONTENT, STYLE), CONTENT)
    assert numbers["content_preservation"] == pytest.approx(expected)
    assert 0.0 < expected < triple["systems"]["source"]["content_preservation"]


def test_the_musical_columns_are_the_musical_checks_of_each_system(tmp_path):
    dirs = {}
    for kind, name in (("content", "song"), ("style", "style"), ("output", "song__style")):
        dirs[kind] = tmp_path / kind
        dirs[kind].mkdir()
        source = example_path("band.mid" if kind == "output" else f"{name}.mid")
        shutil.copy(source, dirs[kind] / f"{name}.mid")
    [triple] = run(dirs)["triples"]
    content, style = midi.load(example_path("song.mid")), midi.load(example_path("style.mid"))
    reference = loop(playable(style), content)
    systems = {
        "output": midi.load(example_path("band.mid")),
        "source": content,
        "style": style,
        "overlay": overlay(content, style),
    }
    assert list(triple["systems"]) == list(systems)
    for name, piece in systems.items():
        numbers = triple["systems"][name]
        assert set(SCALARS.values()) <= set(numbers)
        for unit in ("beat", "bar"):
            assert numbers[f"onset_phase_{unit}"] == pytest.approx(
                onset_phase_similarity(piece, style, unit)
            ), (name, unit)
        assert numbers["chord_tone_rate"] == pytest.approx(chord_tone_rate(piece, content))
        # Each role against the style's limit for it, or the whole style's (strings).
        limits = {role: duration_limit(style, role=role) for role in PITCHED_ROLES}
        limits = {r: duration_limit(style) if math.isnan(v) else v for r, v in limits.items()}
        assert math.isnan(duration_limit(style, role="strings"))
        held = {role: held_note_rate(piece, limits[role], role=role) for role in PITCHED_ROLES}
        held = {role: rate for role, rate in held.items() if not math.isnan(rate)}
        assert numbers["held_note_rate_by_role"] == pytest.approx(held), name
        continuity = part_continuity(piece, reference)
        assert numbers["part_continuity_by_role"] == pytest.approx(continuity), name
        assert numbers["part_continuity"] == pytest.approx(np.mean(list(continuity.values())))
    # The bundled style example plays every role but strings, 8 bars of 4/4; the
    # 4-bar band stops halfway through the 16-bar song.
    assert triple["systems"]["output"]["part_continuity_by_role"]["bass"] == 0.25
    assert triple["systems"]["overlay"]["part_continuity"] == 1.0


def test_continuity_is_measured_against_the_target_when_there_is_one(tmp_path):
    # The target plays bass in all 8 bars; the output only in the first 2, as the
    # style example does (which a looped reference would not fault it for).
    target = score_of([note(4 * bar, 1, 36) for bar in range(8)], [BASS])
    output = score_of([note(4 * bar, 1, 36) for bar in range(2)], [BASS])
    dirs = folders(tmp_path, content=("song", CONTENT), style=("funk", STYLE),
                   output=("song__funk", output), target=("song__funk", target))  # fmt: skip
    results = run(dirs)
    [triple] = results["triples"]
    assert results["config"]["continuity_reference"] == "target"
    assert triple["systems"]["output"]["part_continuity_by_role"] == {"bass": 0.25}
    assert triple["systems"]["target"]["part_continuity_by_role"] == {"bass": 1.0}
    assert part_continuity(output, target) == {"bass": 0.25}


def test_the_drum_profile_counts_once_in_style_fit(tmp_path):
    # The output plays the example's bass exactly, and no drums.
    output = score_of([n for n in STYLE.notes.tolist() if n[4] == 0], [BASS])
    dirs = folders(tmp_path, content=("song", CONTENT), style=("funk", STYLE),
                   output=("song__funk", output))  # fmt: skip
    numbers = run(dirs)["triples"][0]["systems"]["output"]
    # Fixed: 3 bass and 3 "all" (pitched) profiles fit, 2 drum-role profiles do not.
    assert "all/drums" not in numbers["style_fit"]
    assert numbers["style_fit_mean"] == pytest.approx(6 / 8)
    # Groove2Groove's set counts the missing drums once more, as all/drums: 6 of 9.
    assert numbers["style_fit_g2g"]["all/drums"] == 0.0
    assert numbers["style_fit_g2g_mean"] == pytest.approx(6 / 9)


def test_roles_no_model_plays_are_left_out_and_reported(tmp_path, capsys):
    # The example has a trumpet ("other") besides its bass; the output plays the bass.
    bass = [note(b, 0.5, 42) for b in range(0, 8, 2)]
    style = score_of(bass + [note(b + 1, 1, 72, 1) for b in range(0, 8, 2)], [BASS, TRUMPET])
    output = score_of(bass, [BASS])
    dirs = folders(tmp_path, content=("song", CONTENT), style=("solo", style),
                   output=("song__solo", output))  # fmt: skip
    args = [f"--{k}={v}" for k, v in dirs.items()]
    assert main(["eval", "transfer", *args, "--report", str(tmp_path / "r.html"), "-q"]) == 0
    assert "left out as roles no model plays: other (in 1 triple(s))" in capsys.readouterr().out
    assert "Left out of style fit" in (tmp_path / "r.html").read_text()
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["excluded_roles"] == {"other": 1}
    [triple] = results["triples"]
    assert triple["excluded_roles"] == ["other"]
    numbers = triple["systems"]["output"]
    assert not any(key.startswith("other/") for key in numbers["style_fit"])
    assert "other" not in numbers["part_continuity_by_role"]
    # Without the trumpet, the output is the example: a perfect fit, also in phase.
    assert numbers["style_fit_mean"] == pytest.approx(1.0)
    assert numbers["onset_phase_beat"] == pytest.approx(1.0)
    # Groove2Groove's definitions fault it for the trumpet it could never play.
    assert numbers["style_fit_g2g"]["other/onset_duration"] == 0.0
    assert numbers["style_fit_g2g_mean"] < 0.9


def test_style_fit_places_onsets_in_three_four_bars(tmp_path):
    # A 2-bar waltz bass (beats 1 and 2 of each 3/4 bar), and an output playing it
    # 4 times over: the same placement in every bar.
    example = [note(3 * bar + b, 0.5, 36) for bar in range(2) for b in (0, 1)]
    repeated = [note(3 * bar + b, 0.5, 36) for bar in range(8) for b in (0, 1)]
    content = waltz(score_of([note(3 * bar, 3, 60) for bar in range(8)], [KEYS]))
    dirs = folders(tmp_path, content=("song", content),
                   style=("waltz", waltz(score_of(example, [BASS]))),
                   output=("song__waltz", waltz(score_of(repeated, [BASS]))))  # fmt: skip
    numbers = run(dirs)["triples"][0]["systems"]["output"]
    assert numbers["style_fit"]["bass/onset_duration"] == pytest.approx(1.0)
    assert numbers["onset_phase_bar"] == pytest.approx(1.0)
    # In 4-beat bars the repeats fall elsewhere: the example's onsets 0 1 3 4 are
    # beats (2, 1, 0, 1) of a 4/4 bar, the output's 0 1 3 4 6 7 ... (4, 4, 4, 4):
    # cos = 16 / (sqrt(6) * 8).
    g2g = numbers["style_fit_g2g"]["bass/onset_duration"]
    assert g2g == pytest.approx(16 / (math.sqrt(6) * 8))


def test_the_g2g_numbers_are_groove2grooves_definitions(tmp_path):
    # A piece where every fix matters: 3/4, a trumpet, drums.
    style = waltz(score_of(
        [note(3 * bar, 0.5, 36) for bar in range(2)]
        + [note(3 * bar + 1, 1, 72, 1) for bar in range(2)]
        + [note(b, 0.25, 42, 2) for b in range(6)],
        [BASS, TRUMPET, DRUMS],
    ))  # fmt: skip
    bass = [note(b, 1, 36) for b in range(0, 24, 2)]
    output = waltz(score_of(bass + [note(b + 0.5, 0.25, 38, 1) for b in range(24)], [BASS, DRUMS]))
    dirs = folders(tmp_path, content=("song", waltz(CONTENT.replace())), style=("w", style),
                   output=("song__w", output))  # fmt: skip
    results = run(dirs)
    [triple] = results["triples"]
    pieces = {"output": output, "source": midi.load(dirs["content"] / "song.mid"), "style": style}
    pieces["overlay"] = overlay(pieces["source"], style)
    old = style_profiles(style)
    for name, piece in pieces.items():
        numbers = triple["systems"][name]
        expected = {"/".join(k): v for k, v in style_fit(style_profiles(piece), old).items()}
        assert numbers["style_fit_g2g"] == pytest.approx(expected), name
        assert numbers["style_fit_g2g_mean"] == pytest.approx(np.mean(list(expected.values())))
        macro = style_fit(pool_profiles([style_profiles(piece)]), old)
        g2g_macro = results["macro"][name][str(dirs["style"] / "w.mid")]["style_fit_g2g_mean"]
        assert g2g_macro == pytest.approx(np.mean(list(macro.values())))
    # ...and they are not the fixed numbers.
    output_numbers = triple["systems"]["output"]
    assert output_numbers["style_fit_g2g_mean"] != pytest.approx(output_numbers["style_fit_mean"])
    summary = results["summary"]["output"]
    assert summary["style_fit_g2g"]["mean"] == pytest.approx(output_numbers["style_fit_g2g_mean"])
