"""`groove.transfer`: play a song again in the style of an example, with a trained model.

The content is cut at downbeats with `groove.data.segments` (the code that made the
training data), every (segment, role) pair is decoded in one batch with the GRU state
carried step by step, and the parts are stitched back onto the content's own tempo
map and bar grid.
"""

from __future__ import annotations

import os
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from groove import midi as gmidi
from groove.data.segments import (
    Segment,
    content_roll,
    cut,
    pitched_score,
    role_score,
    segments,
)
from groove.errors import ConfigError, GrooveWarning, MidiError
from groove.midi import Score, Track
from groove.midi.roles import TRACK_NAMES, TRANSFER_ROLES, parse_role, role_of
from groove.models.sampling import EventGrammar, make_sampler, masked
from groove.tokenizers import Tokenizer

# Meters the shipped model was trained on (quarter notes per bar); others are cut
# into bars all the same, with a warning.
TRAINED_BAR_BEATS = (4.0, 3.0, 6.0)
SHIPPED = "transfer.keras"


def shipped_model_path() -> Path:
    """Where the model shipped inside the package lives."""
    return Path(str(resources.files("groove") / "models" / "weights" / SHIPPED))


def load_transfer_model(path: str | os.PathLike | None = None) -> tuple[Any, Tokenizer]:
    """A `StyleTransferModel` and its tokenizer from a `.keras` file (default: shipped)."""
    import keras

    from groove.models import transfer as _  # noqa: F401  (registers the layers)

    path = Path(path) if path is not None else shipped_model_path()
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such model file"
            + (
                "; the shipped model is missing from this install (reinstall groove), "
                "or pass one with --model"
                if path == shipped_model_path()
                else ""
            )
        )
    try:
        model = keras.saving.load_model(path, compile=False)
        tokenizer = Tokenizer.from_spec(model.tokenizer_config)
    except (ValueError, OSError, KeyError, AttributeError) as e:
        raise ConfigError(f"{path}: not a groove style-transfer model ({e})") from None
    return model, tokenizer


def _style_tracks(score: Score) -> str:
    if not score.tracks:
        return "none"
    return ", ".join(
        f"{t.name or '(unnamed)'} (program {t.program}, {role_of(t)})" for t in score.tracks
    )


def transfer(
    content: Any,
    style: Any,
    model: Any = None,
    roles: list[str] | None = None,
    temperature: float | None = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    keep_melody: bool = False,
    max_tokens: int | None = None,
):
    """Play `content` again in the style of `style`.

    Args:
        content: The song: a path, bytes, `pretty_midi.PrettyMIDI`, music21 stream or
            `Score`. Its harmony is kept; its drums are ignored.
        style: A short example of the style, in any of the same forms. Each output
            role is generated from the example's track of that role.
        model: A `StyleTransferModel`, a path to a `.keras` file, or None for the
            model shipped with groove.
        roles: Roles to generate (bass, keys/piano, guitar, strings, drums); default:
            every role the style example plays.
        temperature, top_k, top_p: Sampling (temperature 0 or None is greedy).
        seed: Seed of the sampling; the same seed gives the same output.
        keep_melody: Copy the content's melody track (its highest pitched track)
            into the output unchanged.
        max_tokens: Tokens per segment and role, at most (default: the model's).

    Returns:
        A `pretty_midi.PrettyMIDI` on the content's tempo map and bar grid.
    """
    score = transfer_score(
        content, style, model, roles=roles, temperature=temperature, top_k=top_k, top_p=top_p,
        seed=seed, keep_melody=keep_melody, max_tokens=max_tokens,
    )  # fmt: skip
    return gmidi.to_pretty_midi(score)


def transfer_score(content, style, model=None, *, roles=None, temperature=1.0, top_k=None,
                   top_p=None, seed=None, keep_melody=False, max_tokens=None,
                   stats=None) -> Score:  # fmt: skip
    """`transfer`, returning a `Score`. A dict passed as `stats` receives the
    segment, row and decoding-step counts and the seconds spent encoding and decoding."""
    sampler = make_sampler(temperature, top_k, top_p)
    content_score = gmidi.load(content)
    style_score = gmidi.load(style)
    if not len(pitched_score(content_score).notes):
        raise MidiError(content_score.source, "the content has no notes to take the harmony from")
    roles = _pick_roles(style_score, roles)
    model, tokenizer = _resolve_model(model)
    max_tokens = int(max_tokens or model.data_config.get("max_tokens", 1023))
    inputs, windows, pairs = transfer_batch(content_score, style_score, model, tokenizer, roles)
    for w in windows:
        if w.beats_per_bar not in TRAINED_BAR_BEATS:
            warnings.warn(
                f"{content_score.source}: bars of {w.beats_per_bar:g} beats; the model knows "
                "4/4, 3/4 and 12/8, so expect a weaker result",
                GrooveWarning,
                stacklevel=2,
            )
            break
    b = len(pairs)
    steps_per_beat = tokenizer.resolution
    end_steps = np.array([round(windows[k].beats * steps_per_beat) for k, _ in pairs])
    keys = np.zeros((b, 256), bool)
    for i, (_, role) in enumerate(pairs):
        keys[i, 128:] = role == "drums"
        keys[i, :128] = role != "drums"
    ids = generate_ids(model, inputs, tokenizer, keys, end_steps, sampler, seed, max_tokens, stats)
    if stats is not None:
        stats.update(segments=len(windows), roles=list(roles), rows=b)
    return _stitch(content_score, style_score, windows, pairs, ids, tokenizer, keep_melody)


def _resolve_model(model) -> tuple[Any, Tokenizer]:
    """A loaded model and its tokenizer, from a model, a `.keras` path or None (shipped)."""
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_transfer_model(model)
    return model, Tokenizer.from_spec(model.tokenizer_config)


def transfer_batch(content: Score, style: Score, model, tokenizer, roles: list[str]):
    """The model inputs of a transfer: every (segment, role) pair of the content, one row each.

    Returns:
        `(inputs, windows, pairs)`: the input dict ("content", "content_mask",
        "style", "role"), the content's segments, and the `(segment index, role)`
        of each row.
    """
    data = model.data_config
    bars = int(data.get("bars", 8))
    fpb = int(data.get("frames_per_beat", 4))
    style_len = int(data.get("style_tokens", 512))
    windows = segments(content, bars)
    examples = {role: _style_examples(style, role, bars, tokenizer, style_len) for role in roles}
    rolls = [content_roll(content, w, frames_per_beat=fpb) for w in windows]
    pairs = [(k, role) for k in range(len(windows)) for role in roles]
    frames = max(len(r) for r in rolls)
    b = len(pairs)
    x_content = np.zeros((b, frames, 128), np.float32)
    x_mask = np.zeros((b, frames), np.float32)
    x_style = np.zeros((b, max(len(ids) for r in roles for ids in examples[r])), np.int32)
    x_role = np.zeros(b, np.int32)
    for i, (k, role) in enumerate(pairs):
        x_content[i, : len(rolls[k])] = rolls[k]
        x_mask[i, : len(rolls[k])] = 1
        ids = examples[role][k % len(examples[role])]
        x_style[i, : len(ids)] = ids
        x_role[i] = TRANSFER_ROLES.index(role)
    inputs = {"content": x_content, "content_mask": x_mask, "style": x_style, "role": x_role}
    return inputs, windows, pairs


def style_embedding(style: Any, model: Any = None, role: str | None = None) -> np.ndarray:
    """The style encoder's vector for a style example.

    Args:
        style: The example: a path, `pretty_midi.PrettyMIDI`, music21 stream or `Score`.
        model: A `StyleTransferModel`, a `.keras` path, or None for the shipped one.
        role: Embed this role's track (bass, keys, guitar, strings, drums). Without
            it, the vector is the mean of the unit-length vectors of every role the
            example plays: one summary to compare whole examples by.

    Returns:
        float32 `(style_dim,)`. Each role's vector averages the encoder's vectors of
        the example's segments (the model's bar count each) that play that role.
    """
    from keras import ops

    score = gmidi.load(style)
    model, tokenizer = _resolve_model(model)
    if not model.one_shot:
        raise ConfigError("a known-style model has no style encoder; use a one-shot model")
    data = model.data_config
    bars, style_len = int(data.get("bars", 8)), int(data.get("style_tokens", 512))
    vectors = []
    for r in _pick_roles(score, None if role is None else [role]):
        examples = _style_examples(score, r, bars, tokenizer, style_len)
        batch = np.zeros((len(examples), max(len(e) for e in examples)), np.int32)
        for i, ids in enumerate(examples):
            batch[i, : len(ids)] = ids
        v = ops.convert_to_numpy(model.style_encoder(batch)).mean(axis=0)
        vectors.append(v if role is not None else v / max(np.linalg.norm(v), 1e-12))
    return np.mean(vectors, axis=0).astype(np.float32)


def generate_ids(model, inputs, tokenizer, keys, end_steps, sampler, seed, max_tokens,
                 stats=None):  # fmt: skip
    """Decode a batch with the grammar's constraints; returns one id array per row."""
    import time

    from keras import ops

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    memory, mask, cond = model.encode(inputs)
    state, att_keys = model.decoder.start(memory, mask, cond)
    t1 = time.perf_counter()
    grammar = EventGrammar(tokenizer._codes, keys, end_steps, max_tokens)
    token = np.full(len(end_steps), tokenizer.bos_id, np.int32)
    out = []
    step = _compiled_step(model)
    while not grammar.done.all():
        logits, state = step(ops.convert_to_tensor(token), state, att_keys, memory, mask, cond)
        logits = np.asarray(ops.convert_to_numpy(logits), np.float64)
        token = sampler(masked(logits, grammar.allowed()), rng).astype(np.int32)
        token = np.where(grammar.done, tokenizer.eos_id, token).astype(np.int32)
        grammar.update(token)
        out.append(token)
    seqs = np.stack(out, axis=1) if out else np.zeros((len(end_steps), 0), np.int32)
    if stats is not None:
        stats.update(steps=len(out), encode_seconds=t1 - t0,
                     decode_seconds=time.perf_counter() - t1)  # fmt: skip
    result = []
    for row in seqs:
        stop = np.flatnonzero(row == tokenizer.eos_id)
        result.append(row[: stop[0]] if len(stop) else row)
    return result


def _compiled_step(model):
    """The decoder step, compiled once per model under TensorFlow (eager ops cost
    about a millisecond each); other back ends call it as it is."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return model.decoder.step
    cached = getattr(model, "_groove_step", None)
    if cached is None:
        import tensorflow as tf

        cached = tf.function(model.decoder.step, reduce_retracing=True)
        model._groove_step = cached
    return cached


def _pick_roles(style: Score, roles: list[str] | None) -> list[str]:
    played = [r for r in TRANSFER_ROLES if role_score(style, r).notes.size]
    if roles is None:
        if not played:
            raise MidiError(
                style.source,
                "no track plays bass, keys, guitar, strings or drums; "
                f"tracks: {_style_tracks(style)}",
            )
        return played
    wanted = list(dict.fromkeys(parse_role(r) for r in roles))
    missing = [r for r in wanted if r not in played]
    if missing:
        raise MidiError(
            style.source,
            f"no track plays {', '.join(missing)}; tracks found: {_style_tracks(style)}",
        )
    return wanted


def _style_examples(
    style: Score, role: str, bars: int, tokenizer, style_len: int
) -> list[np.ndarray]:
    """The role's tokens in each segment of the style example that has any."""
    part = role_score(style, role)
    out = []
    for w in segments(part, bars):
        ids = tokenizer.encode(cut(part, w))[:style_len]
        if len(ids):
            out.append(ids)
    return out


def _stitch(content: Score, style: Score, windows: list[Segment], pairs, ids, tokenizer,
            keep_melody: bool) -> Score:  # fmt: skip
    """Decoded parts placed back on the content's timeline, one track per role."""
    tpb = content.ticks_per_beat
    tracks: list[Track] = []
    tables = []
    index: dict[str, int] = {}
    for (k, role), row in zip(pairs, ids, strict=True):
        if role not in index:
            source = next(t for t in style.tracks if role_of(t) == role)
            index[role] = len(tracks)
            tracks.append(Track(source.program, role == "drums", TRACK_NAMES[role]))
        part, _ = tokenizer.decode_score(row, ticks_per_beat=tpb)
        notes = part.notes.copy()
        w = windows[k]
        notes["start"] += w.start
        notes["end"] = np.minimum(notes["end"] + w.start, w.end)
        notes["track"] = index[role]
        tables.append(notes)
    if keep_melody:
        melody = _melody_track(content)
        if melody is not None:
            notes = content.notes[content.notes["track"] == melody].copy()
            notes["track"] = len(tracks)
            tracks.append(content.tracks[melody])
            tables.append(notes)
    notes = gmidi.sort_notes(np.concatenate(tables)) if tables else content.notes[:0]
    return content.replace(notes=notes, tracks=tracks, pedals=content.pedals[:0], repairs=[],
                           source=f"<{content.source} in the style of {style.source}>")  # fmt: skip


def _melody_track(score: Score) -> int | None:
    """The pitched track with the highest mean pitch: the usual home of a melody."""
    best, best_pitch = None, -1.0
    for i, t in enumerate(score.tracks):
        pitches = score.notes["pitch"][score.notes["track"] == i]
        if t.is_drum or not len(pitches):
            continue
        if pitches.mean() > best_pitch:
            best, best_pitch = i, float(pitches.mean())
    return best
