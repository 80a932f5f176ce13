"""`groove eval transfer` and `groove eval corpus`: numbers, JSON, HTML reports, bad input."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from groove import example_path
from groove.cli import main
from groove.errors import ConfigError, GrooveWarning
from groove.eval import METRICS
from groove.eval.runs import evaluate_corpus, evaluate_transfer, match_triples, read_pairs
from groove.eval.style import excluded_roles
from tests.conftest import IN_CI, SHARED_MIDI, smf, smf_track

MULTITRACK = SHARED_MIDI / "miditok" / "multitrack"
needs_shared = pytest.mark.skipif(not MULTITRACK.is_dir(), reason=f"{MULTITRACK} is absent")


def strict_json(path: Path):
    """Parse JSON that must not contain NaN or Infinity (browsers and jq reject them)."""

    def refuse(name):
        raise AssertionError(f"{path} contains {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


def embedded_images(report: Path) -> list[np.ndarray]:
    """Decode every embedded PNG of an HTML report."""
    data = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report.read_text())
    return [imread(io.BytesIO(base64.b64decode(d)), format="png") for d in data]


def assert_images_show_something(images: list[np.ndarray]) -> None:
    for image in images:
        assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
        assert image[..., :3].std() > 0.01  # not a blank canvas


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    """The acceptance run: every shared multitrack file is its own output, the next its style."""
    if not MULTITRACK.is_dir():
        pytest.skip(f"{MULTITRACK} is absent")
    out = tmp_path_factory.mktemp("eval")
    files = sorted(p.name for p in MULTITRACK.glob("*.mid"))
    lines = ["content\tstyle\toutput"]
    lines += [f"{f}\t{files[(i + 1) % len(files)]}\t{f}" for i, f in enumerate(files)]
    (out / "pairs.tsv").write_text("\n".join(lines) + "\n")
    folder = str(MULTITRACK)
    code = main(
        [
            *("eval", "transfer", "--content", folder, "--style", folder, "--output", folder),
            *("--pairs", str(out / "pairs.tsv"), "--report", str(out / "r.html")),
            *("--examples", "2", "-q"),
        ]
    )
    return code, out, files


@needs_shared
def test_transfer_on_shared_multitrack_files(shared_run):
    code, out, files = shared_run
    assert code == 0
    results = strict_json(out / "r.json")
    assert len(results["triples"]) == len(files) and results["skipped"] == []
    for triple in results["triples"]:
        output, source, style = (triple["systems"][s] for s in ("output", "source", "style"))
        # The output is the content itself: perfect content, the source baseline's style.
        assert output["content_preservation"] == pytest.approx(1.0)
        assert output["style_fit"] == source["style_fit"]
        # The style baseline fits its own style perfectly and keeps little content.
        assert style["style_fit_mean"] == pytest.approx(1.0)
        assert 0.0 <= style["content_preservation"] < 1.0
        for value in output["style_fit"].values():
            assert 0.0 <= value <= 1.0
        assert set(output["style_fit"]) >= {"all/onset_duration", "drums/drums"}
        # The style example against itself: in phase, and by definition of the 95th
        # percentile at most 5% of its notes held longer than it holds them.
        assert style["onset_phase_beat"] == pytest.approx(1.0)
        assert style["onset_phase_bar"] == pytest.approx(1.0)
        assert style["held_note_rate"] <= 0.05
        assert set(triple["systems"]) == {"output", "source", "style", "overlay"}
        assert triple["excluded_roles"] == excluded_roles(triple["style"])
    assert results["excluded_roles"] == {
        "other": sum("other" in t["excluded_roles"] for t in results["triples"])
    }
    assert results["excluded_roles"]["other"] > 0  # the shared files have such tracks
    summary = results["summary"]
    assert summary["output"]["content_preservation"]["mean"] == pytest.approx(1.0)
    assert summary["style"]["style_fit"]["mean"] == pytest.approx(1.0)
    assert summary["output"]["style_fit"]["n"] == len(files)
    assert set(results["macro"]["output"]) == {str(MULTITRACK / f) for f in files}


@needs_shared
def test_transfer_report_has_every_plot_and_every_file(shared_run):
    _, out, files = shared_run
    report = out / "r.html"
    text = report.read_text()
    for name in files:
        assert name in text
    images = embedded_images(report)
    # 3 distribution plots, then per example: piano rolls, chroma, profile heatmaps.
    assert len(images) == 3 + 2 * 3
    assert_images_show_something(images)
    for caption in ("piano rolls", "chroma of content and output", "style profiles of"):
        assert caption in text


@needs_shared
@pytest.mark.skipif(
    shutil.which("chromium") is None and not IN_CI, reason="chromium is not installed"
)
def test_the_report_opens_in_headless_chromium(shared_run, tmp_path):
    if shutil.which("chromium") is None:  # only under CI=true, where it must run
        pytest.fail("CI=true but chromium is not installed (.ci/run installs it)")
    _, out, _ = shared_run
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            *("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"),
            *("--window-size=1200,2400", f"--screenshot={shot}", (out / "r.html").as_uri()),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image = imread(shot)
    assert image.shape[:2] == (2400, 1200)
    # The page draws text, tables and plots: many pixels are far from white.
    assert (image[..., :3].mean(axis=2) < 0.5).mean() > 0.01


def band_and_chorale(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(example_path("band.mid"), folder / "band.mid")
    shutil.copy(example_path("chorale.mid"), folder / "chorale.mid")
    return folder


def test_outputs_are_matched_by_name_and_a_bad_file_is_skipped(tmp_path, capsys):
    folder = band_and_chorale(tmp_path)
    outputs = tmp_path / "out"
    outputs.mkdir()
    shutil.copy(folder / "band.mid", outputs / "chorale__band.mid")  # content chorale, style band
    shutil.copy(folder / "chorale.mid", outputs / "chorale.mid")
    (outputs / "band.mid").write_bytes(b"MThd garbage")
    (outputs / "orphan__nothing.mid").write_bytes(b"")
    code = main(
        [
            *("eval", "transfer", "--content", str(folder), "--style", str(folder)),
            *("--output", str(outputs), "--report", str(tmp_path / "r.html"), "-q"),
        ]
    )
    assert code == 0
    results = strict_json(tmp_path / "r.json")
    scored = {
        (Path(t["content"]).name, Path(t["style"]).name, Path(t["output"]).name)
        for t in results["triples"]
    }
    assert scored == {
        ("chorale.mid", "band.mid", "chorale__band.mid"),
        ("chorale.mid", "chorale.mid", "chorale.mid"),
    }
    skipped = {Path(s["file"]).name: s["reason"] for s in results["skipped"]}
    assert set(skipped) == {"band.mid", "orphan__nothing.mid"}
    assert "no content file" in skipped["orphan__nothing.mid"]
    assert "groove: warning:" in capsys.readouterr().err
    assert "Skipped files (2)" in (tmp_path / "r.html").read_text()
    # The chorale kept as itself keeps its content; the band in place of it does not.
    by_output = {Path(t["output"]).name: t["systems"]["output"] for t in results["triples"]}
    assert by_output["chorale.mid"]["content_preservation"] == pytest.approx(1.0)
    assert by_output["chorale__band.mid"]["content_preservation"] < 0.9
    assert by_output["chorale__band.mid"]["style_fit_mean"] == pytest.approx(1.0)


def test_pairs_file_format(tmp_path):
    folder = band_and_chorale(tmp_path)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# a comment\ncontent\tstyle\toutput\n\nband.mid\tchorale.mid\tband.mid\n")
    triples = read_pairs(pairs, folder, folder, folder)
    assert [(t.content.name, t.style.name, t.output.name) for t in triples] == [
        ("band.mid", "chorale.mid", "band.mid")
    ]
    triples, skipped = match_triples(folder, folder, folder)
    assert len(triples) == 2 and skipped == []


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "groove.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_bad_pairs_and_folders_exit_2_with_one_line(tmp_path):
    folder = band_and_chorale(tmp_path)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("band.mid\tchorale.mid\n")
    dirs = ["--content", str(folder), "--style", str(folder), "--output", str(folder)]
    report = tmp_path / "r.html"
    result = run_cli("eval", "transfer", *dirs, "--pairs", str(pairs), "--report", str(report))
    assert result.returncode == 2
    assert (
        result.stderr == f"groove: error: {pairs}:1: expected 3 tab-separated paths "
        "(content, style, output), got 2 field(s)\n"
    )
    assert not report.exists()
    missing = tmp_path / "nowhere"
    result = run_cli("eval", "transfer", "--content", str(missing), *dirs[2:])
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert str(missing) in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("eval", "corpus", str(folder), str(empty), "--report", str(report))
    assert result.returncode == 0  # an empty folder has no numbers, but that is no error


def test_corpus_skips_a_file_it_cannot_measure_and_keeps_the_others(tmp_path, capsys):
    folder = band_and_chorale(tmp_path)

    def notes_or_refuse(score):
        if "band" in str(score.source):
            raise ConfigError("the piece is 19000010 beats long, too long to measure")
        return float(len(score.notes))

    with pytest.warns(GrooveWarning, match=r"band\.mid: skipped: the piece is 19000010 beats"):
        results = evaluate_corpus([folder], progress=False, metrics={"notes": notes_or_refuse})
    assert list(results["files"][str(folder)]) == [str(folder / "chorale.mid")]
    assert results["skipped"] == [
        {"file": str(folder / "band.mid"), "reason": "the piece is 19000010 beats long, too long "
         "to measure"}
    ]  # fmt: skip
    assert results["summary"][str(folder)]["notes"]["n"] == 1


def long_file(path: Path) -> Path:
    """Issue 15, item 3: one drum hit 19,000,000 beats long (1 tick per beat, 1 us per
    beat: 19 seconds), then a piano note; 52 bytes."""
    tempo = (0, b"\xff\x51\x03\x00\x00\x01")
    events = [tempo, (0, b"\x99\x24\x64"), (19_000_000, b"\x89\x24\x00"), (0, b"\x90\x3c\x64"),
              (1, b"\x80\x3c\x00")]  # fmt: skip
    path.write_bytes(smf([smf_track(events)], tpb=1))
    return path


def test_corpus_with_a_very_long_file_measures_every_file(tmp_path):
    folder = band_and_chorale(tmp_path)
    long_file(folder / "long.mid")
    garbage = folder / "garbage.mid"
    garbage.write_bytes(b"MThd garbage")
    report = tmp_path / "c.html"
    result = run_cli("eval", "corpus", str(folder), "--report", str(report), "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("groove: warning:") == 1 and str(garbage) in result.stderr
    results = strict_json(tmp_path / "c.json")
    measured = results["files"][str(folder)]
    assert set(measured) == {str(folder / n) for n in ("band.mid", "chorale.mid", "long.mid")}
    assert measured[str(folder / "long.mid")]["polyphony"] == 1.0
    assert [s["file"] for s in results["skipped"]] == [str(garbage)]


def test_transfer_skips_a_triple_it_cannot_measure_and_scores_the_others(tmp_path):
    folder = band_and_chorale(tmp_path)
    outputs = tmp_path / "out"
    outputs.mkdir()
    shutil.copy(folder / "chorale.mid", outputs / "chorale.mid")
    long_file(outputs / "band.mid")  # 19,000,000 beats: too many bars to cut
    report = tmp_path / "r.html"
    result = run_cli(
        *("eval", "transfer", "--content", str(folder), "--style", str(folder)),
        *("--output", str(outputs), "--report", str(report), "-q"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count(f"groove: warning: {outputs / 'band.mid'}: skipped: ") == 1
    results = strict_json(tmp_path / "r.json")
    assert [Path(t["output"]).name for t in results["triples"]] == ["chorale.mid"]
    [skipped] = results["skipped"]
    assert skipped["file"] == str(outputs / "band.mid")
    assert not skipped["reason"].startswith(str(outputs))


def test_corpus_report_draws_folder_names_with_dollar_signs(tmp_path):
    # Issue 15, item 7: matplotlib read "x$_$y" as math text and raised in the report.
    folder = band_and_chorale(tmp_path)
    odd = tmp_path / "x$_$y"
    shutil.copytree(folder, odd)
    report = tmp_path / "c.html"
    result = run_cli("eval", "corpus", str(folder), str(odd), "--report", str(report), "-q")
    assert result.returncode == 0, result.stderr
    assert "x$_$y" in report.read_text()
    assert len(embedded_images(report)) == 8


def test_corpus_of_a_folder_against_itself_overlaps_fully(tmp_path):
    folder = band_and_chorale(tmp_path)
    results = evaluate_corpus([folder, folder], progress=False)
    assert results["overlap"] == {}  # the same folder twice is one folder
    other = tmp_path / "copy"
    shutil.copytree(folder, other)
    results = evaluate_corpus([folder, other], progress=False)
    for name, overlap in results["overlap"][str(other)].items():
        assert overlap["overlapping_area"] == pytest.approx(1.0, abs=1e-6), name


def test_corpus_cli_writes_json_and_report(tmp_path, capsys):
    folder = band_and_chorale(tmp_path)
    other = SHARED_MIDI / "muspy" if SHARED_MIDI.is_dir() else tmp_path
    report = tmp_path / "c.html"
    assert main(["eval", "corpus", str(folder), str(other), "--report", str(report), "-q"]) == 0
    results = strict_json(tmp_path / "c.json")
    band = results["files"][str(folder)][str(folder / "band.mid")]
    assert set(band) == set(results["summary"][str(folder)]) == set(METRICS)
    assert band["drum_pattern_consistency"] == 1.0  # the band's drums sit on sixteenths
    assert set(results["overlap"]) == {str(other)}
    assert "pitch_class_entropy" in capsys.readouterr().out
    images = embedded_images(report)
    assert len(images) == 8
    assert_images_show_something(images)


def test_transfer_api_rejects_an_output_folder_without_matches(tmp_path):
    folder = band_and_chorale(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    from groove.errors import ConfigError

    with pytest.raises(ConfigError, match="no output"):
        evaluate_transfer(folder, folder, empty, progress=False)


def test_transfer_with_targets_scores_the_ground_truth_and_each_role(tmp_path, capsys):
    from groove import midi
    from groove.data import Style, random_chart, render_score

    dirs = {name: tmp_path / name for name in ("content", "style", "output", "target")}
    for d in dirs.values():
        d.mkdir()
    chart, other = random_chart(1, bars=8), random_chart(2, bars=8)
    a, b = Style.random(3), Style.random(4)
    midi.save(render_score(chart, a, 0), dirs["content"] / "song.mid")
    midi.save(render_score(other, b, 0), dirs["style"] / "b.mid")
    target = render_score(chart, b, 0)
    midi.save(target, dirs["target"] / "song__b.mid")
    midi.save(target, dirs["output"] / "song__b.mid")  # a perfect transfer
    midi.save(target, dirs["output"] / "song__b2.mid")  # its target is missing
    shutil.copy(dirs["style"] / "b.mid", dirs["style"] / "b2.mid")
    args = ["eval", "transfer", *(f"--{k}={v}" for k, v in dirs.items())]
    assert main([*args, "--report", str(tmp_path / "r.html"), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "target" in printed and "content preservation by role" in printed
    results = strict_json(tmp_path / "r.json")
    assert [t["output"] for t in results["triples"]] == [str(dirs["output"] / "song__b.mid")]
    assert results["skipped"][0]["reason"] == "no target file matches its name"
    summary = results["summary"]
    assert summary["target"] == summary["output"]
    # The same chart in another style keeps much of the harmony; another chart less.
    assert summary["target"]["content_preservation"]["mean"] > 0.6
    assert (
        summary["style"]["content_preservation"]["mean"]
        < summary["target"]["content_preservation"]["mean"]
    )
    assert summary["source"]["content_preservation"]["mean"] == pytest.approx(1.0)
    by_role = summary["target"]["content_preservation_by_role"]
    assert "bass" in by_role and all(0 <= v["mean"] <= 1 for v in by_role.values())
    assert summary["target"]["style_fit"]["mean"] > summary["source"]["style_fit"]["mean"]
    assert "Content preservation by instrument role" in (tmp_path / "r.html").read_text()


def test_a_piano_roll_draws_at_most_max_drawn_notes(monkeypatch):
    from groove.eval import plots
    from groove.midi import NOTE_DTYPE, Score, Track

    notes = np.zeros(300, NOTE_DTYPE)
    notes["start"] = np.arange(300)[::-1] * 4
    notes["end"] = notes["start"] + 4
    notes["pitch"], notes["velocity"] = 60, 80
    score = Score(notes=notes, tracks=[Track(0, False, "p")], ticks_per_beat=96)
    monkeypatch.setattr(plots, "MAX_DRAWN_NOTES", 100)
    figure = plots.piano_rolls([("many", score)])
    (ax,) = figure.axes
    assert sum(len(c.patches) for c in ax.containers) == 100
    assert ax.get_title(loc="left") == "many (first 100 notes)"
    drawn = sorted(p.get_x() for c in ax.containers for p in c.patches)
    assert drawn[-1] < 100 * 4 / 96  # the earliest hundred, in beats
