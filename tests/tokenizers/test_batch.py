"""encode_files: many files, a progress bar, bad files reported and skipped."""

from __future__ import annotations

from groove import example_path
from groove.tokenizers import BeatTokenizer, PerformanceTokenizer, encode_files


def test_bad_file_is_reported_and_the_rest_go_on(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    paths = [example_path("band.mid"), bad, example_path("chorale.mid")]
    result = encode_files(paths, PerformanceTokenizer(), progress=False)
    assert list(result.ids) == [example_path("band.mid"), example_path("chorale.mid")]
    assert list(result.failed) == [str(bad)]
    assert "does not start with 'MThd'" in result.failed[str(bad)]


def test_parallel_workers_give_the_same_ids(tmp_path):
    paths = [example_path("band.mid"), example_path("chorale.mid")] * 3
    tok = BeatTokenizer()
    one = encode_files(paths, tok, workers=1, progress=False)
    two = encode_files(paths, tok, workers=2, per_track=False, progress=False)
    assert one.ids.keys() == two.ids.keys()
    for path in one.ids:
        assert one.ids[path].tolist() == two.ids[path].tolist()
    per_track = encode_files(paths[:1], tok, per_track=True, progress=False)
    assert len(per_track.ids[example_path("band.mid")]) == 3
