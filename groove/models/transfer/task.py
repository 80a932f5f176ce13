"""The style-transfer task: `groove.transfer` and `groove.style_embedding`.

The content is cut at downbeats by `TransferPreprocessor` (the code that made the
training data), every (segment, role) pair is decoded in one batch with the GRU state
carried step by step (`groove.models.sampling.decode`), and the parts are stitched
back onto the content's own tempo map and bar grid.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from groove import midi as gmidi
from groove.data.segments import pitched_score, role_score, segments
from groove.errors import ConfigError, GrooveWarning, MidiError
from groove.midi import Score
from groove.midi.roles import TRANSFER_ROLES, parse_role, role_of
from groove.models import saving
from groove.models.sampling import Sampler, compiled, decode, make_sampler, seeded
from groove.models.transfer.dynamics import style_velocities
from groove.models.transfer.feel import style_feel
from groove.models.transfer.preprocessor import TransferPreprocessor
from groove.models.transfer.rules import decoding_rules
from groove.tokenizers import Tokenizer
from groove.tokenizers.grammar import (
    HARMONY_STRENGTH,
    LENGTHS_STRENGTH,
    RHYTHM_STRENGTH,
    EventGrammar,
)

# Rows ((segment, role) pairs) decoded in one batch: a long song is decoded a batch
# at a time, so memory stays bounded however long the song (issue 15).
TRANSFER_BATCH_ROWS = 64
# The longest content a transfer takes, in seconds: a longer song is refused (cut it
# into parts) rather than decoded for hours.
MAX_TRANSFER_SECONDS = 3600.0

# Meters the shipped model was trained on (quarter notes per bar); others are cut
# into bars all the same, with a warning.
TRAINED_BAR_BEATS = (4.0, 3.0, 6.0)


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
    *,
    roles: list[str] | None = None,
    temperature: float | None = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    keep_melody: bool = False,
    max_tokens: int | None = None,
    harmony: float | None = HARMONY_STRENGTH,
    register: bool = True,
    lengths: float | None = LENGTHS_STRENGTH,
    rhythm: float | None = RHYTHM_STRENGTH,
    dynamics: bool = True,
    feel: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
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
        harmony: The harmony mask's strength: nats taken from a note whose pitch
            class the content does not sound within half a beat (default 6: about
            400 times less likely); 0 or None turns it off, `float("inf")` forbids.
        register: Keep each part within the style example's register (±2
            semitones) and, for drums, to the drum sounds the example uses.
        lengths: (duration-token models) Nats taken from a note length the style
            example's part does not play, within a grid step (default 2: about 7
            times less likely); 0 or None turns it off.
        rhythm: Nats taken from a note struck at a position in the bar (for drums:
            a sound at a position) where the style example's part never strikes
            (default 8: about 3,000 times less likely), and so does a step of time to
            such a position; 0 or None turns it off.
        dynamics: Play each note at the style example's own velocity for the
            model's coarse velocity bin, its position in the bar and (drums) its
            sound; where the example never plays that bin there, at the nearest
            level it plays there (`groove.models.transfer.dynamics`).
        feel: Move each note off the grid as the style example's part plays that
            place in the bar (its swing, push or lag), and give it the exact
            length the example plays for its grid length, within half a grid step
            of what the model chose (`groove.models.transfer.feel`).
            When sampling (temperature above 0), the level, offset and length are
            each drawn from the example's notes at that place, so the example's
            own spread comes back (seeded by `seed`); greedy decoding takes their
            medians.
        progress: Called as `progress(rows_done, rows)` after each batch of
            `TRANSFER_BATCH_ROWS` (segment, role) rows is decoded.

    Songs longer than `MAX_TRANSFER_SECONDS` are refused with a `MidiError`.

    Every part also follows rules that are always on: no note sounds past its
    segment's end, no part ends before the segment's last bar, and no note lasts
    more than 1.5 times the 95th percentile of the style part's note lengths (see
    `groove.models.transfer.rules`).

    Returns:
        A `pretty_midi.PrettyMIDI` on the content's tempo map and bar grid.
    """
    score = transfer_score(
        content, style, model, roles=roles, temperature=temperature, top_k=top_k, top_p=top_p,
        seed=seed, keep_melody=keep_melody, max_tokens=max_tokens, harmony=harmony,
        register=register, lengths=lengths, rhythm=rhythm, dynamics=dynamics,
        feel=feel, progress=progress,
    )  # fmt: skip
    return gmidi.to_pretty_midi(score)


def transfer_score(
    content: Any,
    style: Any,
    model: Any = None,
    *,
    roles: list[str] | None = None,
    temperature: float | None = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    keep_melody: bool = False,
    max_tokens: int | None = None,
    harmony: float | None = HARMONY_STRENGTH,
    register: bool = True,
    lengths: float | None = LENGTHS_STRENGTH,
    rhythm: float | None = RHYTHM_STRENGTH,
    dynamics: bool = True,
    feel: bool = True,
    progress: Callable[[int, int], None] | None = None,
    stats: dict[str, Any] | None = None,
) -> Score:
    """`transfer`, returning a `Score`. A dict passed as `stats` receives the
    segment, row and decoding-step counts and the seconds spent encoding and decoding."""
    sampler = make_sampler(temperature, top_k, top_p)
    seeded(seed)  # (a ConfigError for a bad seed before any work)
    content_score = gmidi.load(content)
    style_score = gmidi.load(style)
    if not len(pitched_score(content_score).notes):
        raise MidiError(content_score.source, "the content has no notes to take the harmony from")
    seconds = content_score.duration_seconds
    if seconds > MAX_TRANSFER_SECONDS:
        raise MidiError(
            content_score.source,
            f"the song is {seconds / 60:.0f} minutes long, over the "
            f"{MAX_TRANSFER_SECONDS / 60:.0f}-minute limit of a transfer; cut it into parts",
        )
    roles = _pick_roles(style_score, roles)
    if harmony is not None and not harmony >= 0:
        raise ConfigError(f"harmony must be 0 or more (nats), got {harmony}")
    if lengths is not None and not lengths >= 0:
        raise ConfigError(f"lengths must be 0 or more (nats), got {lengths}")
    if rhythm is not None and not rhythm >= 0:
        raise ConfigError(f"rhythm must be 0 or more (nats), got {rhythm}")
    model, tokenizer = saving.resolve(model, "transfer")
    pre = TransferPreprocessor.from_model(model, tokenizer)
    max_tokens = int(max_tokens or pre.settings.max_tokens)
    # Only segments where the song plays: bar lines run on to the last time-signature
    # change, which a hostile file puts hours past the last note.
    last = int(content_score.notes["end"].max())
    windows = [w for w in segments(content_score, pre.settings.bars) if w.start < last]
    for w in windows:
        if w.beats_per_bar not in TRAINED_BAR_BEATS:
            warnings.warn(
                f"{content_score.source}: bars of {w.beats_per_bar:g} beats; the model knows "
                "4/4, 3/4 and 12/8, so expect a weaker result",
                GrooveWarning,
                stacklevel=2,
            )
            break
    pairs = [(k, role) for k in range(len(windows)) for role in roles]
    rng = seeded(seed)
    ids: list[np.ndarray] = []
    totals = {"steps": 0, "encode_seconds": 0.0, "decode_seconds": 0.0}
    batches = pre.segment_batches(content_score, style_score, windows, pairs,
                                  TRANSFER_BATCH_ROWS)  # fmt: skip
    for inputs, chunk in batches:
        rules = decoding_rules(content_score, style_score, windows, pairs[chunk],
                               tokenizer.resolution, harmony=harmony,
                               register=register, lengths=lengths,
                               rhythm=rhythm)  # fmt: skip
        grammar = EventGrammar.for_tokenizer(
            tokenizer, rules.pop("keys"), rules.pop("end_steps"), max_tokens, **rules
        )
        part: dict[str, Any] = {}
        ids += generate_ids(model, inputs, grammar, sampler, tokenizer, seed=rng, stats=part)
        totals["steps"] = max(totals["steps"], part["steps"])
        totals["encode_seconds"] += part["encode_seconds"]
        totals["decode_seconds"] += part["decode_seconds"]
        if progress is not None:
            progress(chunk.stop, len(pairs))
    if stats is not None:
        stats.update(totals, segments=len(windows), roles=list(roles), rows=len(pairs))
    melody = _melody_track(content_score) if keep_melody else None
    out = pre.postprocess(content_score, style_score, windows, pairs, ids, melody)
    # A sampled transfer draws each note's level, offset and length from the
    # example's notes at its place (the example's own spread: a seeded humanisation);
    # a greedy one takes their medians. The draws have a seed of their own, from the
    # transfer's seed but not from the decoding's stream, so a part decoded otherwise
    # (cut at the token cap, say) leaves every other part's draws as they were.
    humanise = _humanise_seed(seed) if temperature else None
    roles_only = range(len(out.tracks) - (melody is not None))  # a kept melody is last
    if dynamics:
        out = style_velocities(out, style_score, windows, tokenizer.resolution,
                               tokenizer.velocity_bins, pre.settings.bars, roles_only,
                               draw=humanise)  # fmt: skip
    if feel:  # after the dynamics, which read positions on the grid
        out = style_feel(out, style_score, windows, tokenizer.resolution, pre.settings.bars,
                         roles_only, draw=humanise)  # fmt: skip
    return out


# Tells the humanisation's seed apart from the decoding's, which uses the seed as is.
_HUMANISE_STREAM = 1


def _humanise_seed(seed: Any) -> int:
    """The seed of a transfer's humanisation draws: fixed by an integer `seed`, from
    fresh entropy for None, drawn from a generator."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63 - 1))
    entropy = None if seed is None else [int(seed), _HUMANISE_STREAM]
    return int(np.random.default_rng(entropy).integers(2**63 - 1))


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
    model, tokenizer = saving.resolve(model, "transfer")
    if not model.one_shot:
        raise ConfigError("a known-style model has no style encoder; use a one-shot model")
    pre = TransferPreprocessor.from_model(model, tokenizer)
    vectors = []
    for r in _pick_roles(score, None if role is None else [role]):
        batch = pre.pad([{"style": ids} for ids in pre.style_examples(score, r)])["style"]
        v = ops.convert_to_numpy(model.style_encoder(batch)).mean(axis=0)
        vectors.append(v if role is not None else v / max(np.linalg.norm(v), 1e-12))
    return np.mean(vectors, axis=0).astype(np.float32)


def generate_ids(
    model: Any,
    inputs: dict[str, np.ndarray],
    grammar: EventGrammar,
    sampler: Sampler,
    tokenizer: Tokenizer,
    *,
    seed: int | np.random.Generator | None = None,
    stats: dict[str, Any] | None = None,
) -> list[np.ndarray]:
    """Decode a batch of model inputs under `grammar`; one id array per row (EOS
    dropped); `seed` may be a generator to draw from. The decoder's state (the
    GRU's, or the Transformer's key/value cache) is carried from step to step, never
    re-run."""
    from keras import ops

    t0 = time.perf_counter()
    # The encoders run as one graph: eagerly, the content's GRUs dispatch thousands
    # of small ops. Under JAX both run as they are (jit-compiled transfer steps are
    # not tested yet).
    start_fn = compiled(model, "transfer_start", model.start_decoding, jax_jit=False)
    context, state = start_fn(inputs)
    t1 = time.perf_counter()
    step_fn = compiled(model, "transfer_step", model.decode_step, jax_jit=False)
    position = 0

    def step(token):
        nonlocal state, position
        state = model.grow_state(state, position)
        logits, state = step_fn(ops.convert_to_tensor(token), state, context)
        position += 1
        return ops.convert_to_numpy(logits)

    bos = np.full(len(grammar.done), tokenizer.bos_id, np.int32)
    first = None if grammar.done.all() else step(bos)
    rng = seeded(seed)
    ids = decode(step, first, grammar, sampler, rng, tokenizer.eos_id)
    if stats is not None:  # (a row's length counts its EOS: the longest is every step)
        stats.update(steps=int(grammar.length.max(initial=0)), encode_seconds=t1 - t0,
                     decode_seconds=time.perf_counter() - t1)  # fmt: skip
    return ids


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
    if not wanted:
        raise ConfigError("roles is empty: name at least one role, or pass None for every role")
    missing = [r for r in wanted if r not in played]
    if missing:
        raise MidiError(
            style.source,
            f"no track plays {', '.join(missing)}; tracks found: {_style_tracks(style)}",
        )
    return wanted


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
