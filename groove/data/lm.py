"""Language-model data for a Music Transformer: notes on disk, tokens on the fly.

`build_lm_corpus` reads MIDI files, folders of them and music21 corpus pieces
(`music21:bach`), splits them by file into train / val / test from a seed, and
stores each split's *notes* (as the tokenizer prepares them) in `<split>.npz`,
beside `tokenizer.json` and `manifest.json`. Keeping notes rather than tokens
lets `lm_windows` / `lm_dataset` transpose and time-stretch every file afresh
before tokenizing it, and cut `(inputs, targets)` windows for next-token training.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from groove import midi as gmidi
from groove.errors import ConfigError, GrooveError, GrooveWarning, MidiError
from groove.fileio import atomic_open
from groove.midi import DEFAULT_QPM, TEMPO_DTYPE, Score, Track
from groove.midi.constants import MIDI_SUFFIXES
from groove.tokenizers import Tokenizer, get_tokenizer

SPLITS = ("train", "val", "test")
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
MUSIC21 = "music21:"
# The per-file tables of a split file: each concatenated, with `<name>_offsets`.
_TABLES = ("notes", "tracks", "tempos", "time_signatures", "key_signatures", "pedals")

# ----------------------------------------------------------------------- sources


def list_sources(sources: Sequence[str | os.PathLike], limit: int | None = None) -> list[str]:
    """The items `sources` name, in order, without duplicates, at most `limit`.

    A source is a folder (its `*.mid` / `*.midi` files at any depth, any case,
    sorted), a MIDI file, or `music21:NAME`: a composer or collection of music21's
    corpus (`music21:bach`, `music21:essenFolksong`) or one work
    (`music21:bach/bwv66.6`), listed as `music21:<corpus path>`. A missing path
    or a NAME music21 lacks raises `ConfigError`.
    """
    items: dict[str, None] = {}
    for source in map(os.fspath, sources):
        if limit is not None and len(items) >= limit:
            break
        path = Path(source)
        if source.startswith(MUSIC21):
            found = _music21_items(source)
        elif path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file()
            )
        elif path.is_file():
            found = [source]
        else:
            raise ConfigError(f"{source}: no such file or folder (give MIDI files or folders)")
        items.update(dict.fromkeys(found))
    return list(items)[:limit]


def _music21_items(source: str) -> list[str]:
    from music21 import common, corpus
    from music21.exceptions21 import CorpusException

    name = source[len(MUSIC21) :]
    paths = list(corpus.getComposer(name)) if name else []
    if name and not paths:
        try:
            work = corpus.getWork(name)
            paths = work if isinstance(work, list) else [work]
        except CorpusException:
            pass
    if not paths:
        raise ConfigError(
            f"{source}: the music21 corpus has no composer, collection or work {name!r} "
            "(try music21:bach, music21:palestrina or music21:essenFolksong)"
        )
    root = Path(common.getCorpusFilePath())
    rel = (Path(p).relative_to(root) if Path(p).is_relative_to(root) else Path(p) for p in paths)
    return sorted(MUSIC21 + p.as_posix() for p in rel)


def _pieces(item: str) -> Iterator[tuple[str, Any]]:
    """(name, source for `groove.midi.load`) for each piece of an item: one, or one
    per work (`item#k`) when music21 parses the item as an Opus."""
    if not item.startswith(MUSIC21):
        yield item, item
        return
    from music21 import corpus, stream

    try:
        parsed = corpus.parse(item[len(MUSIC21) :])
    except Exception as e:  # music21 raises many kinds of error on files it cannot read
        raise MidiError(item, f"music21 cannot parse it ({type(e).__name__}: {e})") from e
    if isinstance(parsed, stream.Opus):
        yield from ((f"{item}#{k}", work) for k, work in enumerate(parsed.scores))
    else:
        yield item, parsed


def _load_item(job: tuple[str, Tokenizer]) -> tuple[str, list, list, list]:
    """One item, in a worker: (item, [(name, score, tokens)], [(name, reason)],
    [(warning category, message)]); the parent re-raises the warnings."""
    item, tokenizer = job
    pieces, problems = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GrooveWarning)
        try:
            for name, source in _pieces(item):
                try:
                    score = tokenizer.prepare(source).replace(source=name, repairs=[])
                    tokens = len(tokenizer.encode(score))
                except GrooveError as e:
                    problems.append((name, getattr(e, "reason", str(e))))
                    continue
                if tokens:
                    pieces.append((name, score, tokens))
                else:
                    problems.append((name, "no notes this tokenizer encodes"))
        except GrooveError as e:
            problems.append((item, getattr(e, "reason", str(e))))
    return item, pieces, problems, [(w.category, str(w.message)) for w in caught]


# ------------------------------------------------------------------------ build


def split_files(
    names: Sequence[str], splits: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, list[str]]:
    """Split -> its share of `names` (in their order) by a permutation seeded by
    `seed`; `splits` are the train / val / test fractions. With 3 or more names,
    every split with a positive fraction gets at least one."""
    fractions = np.asarray(splits, np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or not fractions.sum() > 0:
        raise ConfigError(f"splits must be 3 non-negative fractions, got {tuple(splits)}")
    fractions /= fractions.sum()
    n = len(names)
    sizes = [max(round(n * f), 1 if n >= 3 and f > 0 else 0) for f in fractions[1:]]
    sizes = [n - min(sum(sizes), n), *sizes]
    order = np.random.default_rng(seed).permutation(n)
    parts = np.split(order, np.cumsum(sizes)[:-1])
    return {split: [names[i] for i in sorted(part)] for split, part in zip(SPLITS, parts)}


def build_lm_corpus(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    tokenizer: str | Tokenizer = "performance",
    splits: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    limit: int | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Read `sources` (see `list_sources`), split them by file, and write `out`.

    `out` receives `tokenizer.json`, one `<split>.npz` of notes per split (see
    `load_split`) and `manifest.json` (config, tokenizer, files and note / token
    counts per split, skipped files), each written atomically. Notes are stored
    as `tokenizer.prepare` gives them (sustain pedal applied for Performance). A
    file that cannot be read, or has no notes the tokenizer encodes, is skipped
    with a `GrooveWarning` and listed under "skipped". Memory: about 24 bytes per
    note of the whole corpus.

    Args:
        sources, out: Folders, MIDI files and `music21:NAME`s; the output folder.
        tokenizer: A name for `groove.tokenizers.get_tokenizer`, or a tokenizer.
        splits: Train / val / test fractions, by file (see `split_files`).
        seed, limit: Seed of the split; use only the first `limit` items.
        workers: Processes that load files (music21 parses about 0.3 s a piece).
        progress: Show a progress bar on stderr.
    """
    from tqdm.auto import tqdm

    tok = get_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    split_files([], splits)  # reject bad fractions before the slow part
    jobs = [(item, tok) for item in list_sources(sources, limit)]
    loaded: dict[str, list] = {}
    skipped: list[dict[str, str]] = []
    bar = tqdm(total=len(jobs), unit="file", desc="loading", disable=None if progress else True)
    with ProcessPoolExecutor(max(workers, 1)) as pool, bar:  # processes start on first use
        if workers > 1 and len(jobs) > 1:
            results = pool.map(_load_item, jobs, chunksize=max(1, len(jobs) // (8 * workers)))
        else:
            results = map(_load_item, jobs)
        for item, pieces, problems, caught in results:
            for category, message in caught:
                warnings.warn(message, category, stacklevel=2)
            for name, reason in problems:
                warnings.warn(f"{name}: skipped, {reason}", GrooveWarning, stacklevel=2)
                skipped.append({"file": name, "reason": reason})
            if pieces:
                loaded[item] = pieces
            bar.update(1)
            bar.set_postfix(skipped=len(skipped))

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(out / TOKENIZER)
    files, counts = {}, {}
    for split, chosen in split_files(list(loaded), splits, seed).items():
        pieces = [piece for item in chosen for piece in loaded[item]]
        _write_split(out / f"{split}.npz", [(name, score) for name, score, _ in pieces])
        files[split] = [name for name, _, _ in pieces]
        notes, tokens = sum(len(s.notes) for _, s, _ in pieces), sum(t for *_, t in pieces)
        counts[split] = {"files": len(pieces), "notes": notes, "tokens": tokens}
    spec = tokenizer if isinstance(tokenizer, str) else tok.kind
    manifest = {
        "version": 1,
        "config": {"sources": [os.fspath(s) for s in sources], "tokenizer": spec,
                   "splits": [float(f) for f in splits], "seed": seed, "limit": limit},
        "tokenizer": {"kind": tok.kind, "config": tok.get_config(), "vocab_size": len(tok)},
        "files": files,
        "counts": counts,
        "skipped": skipped,
    }  # fmt: skip
    with atomic_open(out / MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def _write_split(path: Path, pieces: list[tuple[str, Score]]) -> None:
    width = max([len(t.name) for _, s in pieces for t in s.tracks] + [1])
    track_dtype = np.dtype([("program", "u1"), ("is_drum", "?"), ("name", f"<U{width}")])
    empty = Score(notes=gmidi.make_notes([], [], []), tracks=[])
    arrays = {
        "names": np.array([name for name, _ in pieces], dtype=str),
        "ticks_per_beat": np.array([s.ticks_per_beat for _, s in pieces], np.int64),
    }
    for table in _TABLES:
        if table == "tracks":
            dtype = track_dtype
            parts = [np.array([dataclasses.astuple(t) for t in s.tracks], dtype) for _, s in pieces]
        else:
            dtype = getattr(empty, table).dtype
            parts = [getattr(s, table) for _, s in pieces]
        arrays[table] = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
        arrays[f"{table}_offsets"] = np.cumsum([0] + [len(p) for p in parts], dtype=np.int64)
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


# ----------------------------------------------------------------------- read back


@dataclasses.dataclass(frozen=True)
class LMSplit:
    """One split as `build_lm_corpus` stored it: the file `names`, their
    `ticks_per_beat`, and per-file `tables` concatenated (notes, tracks, tempos,
    time_signatures, key_signatures, pedals; `Score` dtypes, times in ticks), file
    i's rows being `offsets[name][i]:offsets[name][i + 1]`."""

    names: np.ndarray
    ticks_per_beat: np.ndarray
    tables: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.names)

    def table(self, name: str, index: int) -> np.ndarray:
        """A copy of the rows of table `name` that belong to file `index`."""
        lo, hi = self.offsets[name][index : index + 2]
        return self.tables[name][lo:hi].copy()

    def score(self, index: int) -> Score:
        """File `index` as a `Score` (times in ticks, as stored)."""
        tracks = [Track(int(t[0]), bool(t[1]), str(t[2])) for t in self.table("tracks", index)]
        fields = {name: self.table(name, index) for name in _TABLES if name != "tracks"}
        tpb, source = int(self.ticks_per_beat[index]), str(self.names[index])
        return Score(tracks=tracks, ticks_per_beat=tpb, source=source, **fields)


def load_split(data_dir: str | os.PathLike, split: str) -> LMSplit:
    """Read `<data_dir>/<split>.npz` written by `build_lm_corpus` (no pickle)."""
    path = Path(data_dir) / f"{split}.npz"
    if not path.is_file():
        raise ConfigError(f"{path}: no such split; build the folder with build_lm_corpus")
    with np.load(path, allow_pickle=False) as z:
        tables = {name: z[name] for name in _TABLES}
        offsets = {name: z[f"{name}_offsets"] for name in _TABLES}
        return LMSplit(z["names"], z["ticks_per_beat"], tables, offsets)


def load_tokenizer(data_dir: str | os.PathLike) -> Tokenizer:
    """The tokenizer `build_lm_corpus` saved in `data_dir`."""
    return Tokenizer.load(Path(data_dir) / TOKENIZER)


# ------------------------------------------------------------------ augment, window


def augment(score: Score, semitones: int = 0, speed: float = 1.0) -> Score:
    """`score` with non-drum pitches moved by `semitones` (notes pushed out of
    0-127 dropped) and every tempo (qpm) times `speed`, so times in seconds scale
    by 1/`speed` (1.05 is 5% faster). Ticks and beats do not change: tempo-free
    tokenizers (`BeatTokenizer`) give the same tokens at any speed."""
    notes = score.notes
    if semitones:  # a drum track's "pitch" is an instrument: keep it
        drum = np.array([t.is_drum for t in score.tracks] + [False], bool)[notes["track"]]
        pitch = notes["pitch"].astype(np.int64) + np.where(drum, 0, int(semitones))
        keep = (pitch >= 0) & (pitch <= 127)
        notes = notes[keep]
        notes["pitch"] = pitch[keep]
    tempos = score.tempos
    if speed != 1.0:
        tempos = tempos.copy() if len(tempos) else np.array([(0, DEFAULT_QPM)], TEMPO_DTYPE)
        tempos["qpm"] *= float(speed)
    return score.replace(notes=notes, tempos=tempos)
