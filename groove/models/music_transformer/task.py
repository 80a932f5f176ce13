"""The Music Transformer's task: `groove.generate` composes, or continues a primer.

Every sample of a batch is decoded in parallel (`groove.models.sampling.decode`),
one token per step over a key/value cache (`CachedDecoder`); when the cache is full
the window slides (the last half of the context is run again and generation goes
on). `EventGrammar` masks, at every step, the tokens that would make an invalid
event stream, so the output always decodes: notes are released before the end, no
NOTE_OFF comes without its NOTE_ON, and a length cap ends every sample whatever the
model says.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.models import saving
from groove.models.music_transformer.preprocessor import MusicTransformerPreprocessor
from groove.models.sampling import (
    MAX_GENERATE_SECONDS,
    MAX_GENERATE_TOKENS,
    MAX_SAMPLES,
    Sampler,
    compiled,
    decode,
    make_sampler,
    seeded,
)
from groove.tokenizers import Tokenizer
from groove.tokenizers.grammar import NO_END, EventGrammar, event_codes

# Token cap per second of music when only `seconds` is given: the shipped corpus
# plays about 20 tokens a second, dense piano music about 60.
TOKENS_PER_SECOND_CAP = 80
DEFAULT_MAX_TOKENS = 1024


def generate(
    primer: Any = None,
    model: Any = None,
    *,
    max_tokens: int | None = None,
    seconds: float | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    num_samples: int = 1,
    sampler: Sampler | None = None,
    style: Any = None,
    program: int = 0,
) -> list[Any]:
    """Compose music, or continue `primer`, with a Music Transformer.

    Args:
        primer: Music to continue (anything `groove.midi.load` reads: a path,
            PrettyMIDI, a music21 stream); None composes from scratch. The output
            starts with the primer as the model hears it (its non-drum notes on one
            track), then the continuation.
        model: A `MusicTransformer`, a path to its `.keras` file, a `(model,
            tokenizer)` pair, or None for the shipped model.
        max_tokens: New tokens per sample, at most (default: 1024, or
            80 per second of `seconds`).
        seconds: Music to add, in seconds after the primer's end: the model may not
            end the piece sooner, and notes still sounding are released there (the
            `max_tokens` cap still applies). None: stop at `max_tokens` or when the
            model ends the piece.
        temperature, top_k, top_p: The sampler (see `make_sampler`); temperature 0
            is greedy. Ignored when `sampler` is given.
        seed: Seeds the sampling; the same seed gives the same music.
        num_samples: Samples to draw, decoded together as one batch.
        sampler: A `groove.models.sampling.Sampler` to use instead.
        style: A style vector (`groove.style_embedding`) for a model trained with
            `style_dim`; None for an unconditioned model.
        program: General MIDI program of the output track (0: piano).

    Returns:
        A list of `num_samples` `pretty_midi.PrettyMIDI` (one per sample, also for
        one sample: `[pm] = groove.generate(...)`).
    """
    if not 1 <= num_samples <= MAX_SAMPLES:
        raise ConfigError(f"num_samples must be 1 to {MAX_SAMPLES}, got {num_samples}")
    if seconds is not None and not 0 < seconds <= MAX_GENERATE_SECONDS:
        raise ConfigError(
            f"seconds must be more than 0 and at most {MAX_GENERATE_SECONDS:g}, got {seconds}"
            " (continue the output as a primer for longer music)"
        )
    if max_tokens is None:
        max_tokens = (
            DEFAULT_MAX_TOKENS if seconds is None else math.ceil(seconds * TOKENS_PER_SECOND_CAP)
        )
    if not 1 <= max_tokens <= MAX_GENERATE_TOKENS:
        raise ConfigError(f"max_tokens must be 1 to {MAX_GENERATE_TOKENS}, got {max_tokens}")
    seeded(seed)  # (a ConfigError for a bad seed before any work)
    sampler = sampler or make_sampler(temperature, top_k, top_p)
    model, tokenizer = saving.resolve(model, "music_transformer")
    event_codes(tokenizer)  # (a ConfigError before any work for another tokenizer)
    if seconds is not None and not hasattr(tokenizer, "time_step"):
        raise ConfigError(f"seconds needs a tokenizer timed in seconds, not {tokenizer.kind}")
    pre = MusicTransformerPreprocessor(tokenizer)
    primer_ids = pre.generate_preprocess(primer)
    new = generate_ids(
        model, tokenizer, primer_ids, max_tokens, sampler, seed=seed,
        num_samples=num_samples, seconds=seconds, style=style,
    )  # fmt: skip
    return pre.generate_postprocess(primer_ids, new, program=program)


def generate_ids(
    model: Any,
    tokenizer: Tokenizer,
    primer_ids: np.ndarray,
    max_tokens: int,
    sampler: Sampler,
    *,
    seed: int | None = None,
    num_samples: int = 1,
    seconds: float | None = None,
    style: Any = None,
) -> list[np.ndarray]:
    """The new token ids of each sample (EOS dropped), decoded over a cache.

    Args:
        model, tokenizer: A `MusicTransformer` and its tokenizer.
        primer_ids: Ids to continue (without BOS); may be empty.
        max_tokens: New tokens per sample, at most.
        sampler: Picks each token.
        seed, num_samples, seconds, style: As in `generate`.
    """
    batch = int(num_samples)
    codes = event_codes(tokenizer)
    keys = np.ones((batch, len(codes.on_ids)), bool)
    grammar = EventGrammar(codes, keys, np.full(batch, NO_END), int(max_tokens),
                           end_early=seconds is None)  # fmt: skip
    # The primer's sounding notes and time, with no cap yet; then `seconds` of music
    # (rounded first: 0.56 / 0.01 is 56.00000000000001).
    steps = None if seconds is None else math.ceil(round(seconds / tokenizer.time_step, 6))
    grammar.prime(primer_ids, steps)
    decoder = CachedDecoder(model, batch, _style_batch(model, style, batch))
    first = decoder.start(MusicTransformerPreprocessor(tokenizer).prompt(primer_ids, batch))
    rng = seeded(seed)
    return decode(decoder.step, first, grammar, sampler, rng, tokenizer.eos_id)


class CachedDecoder:
    """Runs a `MusicTransformer` one token at a time over a key/value cache.

    The cache starts at the smallest power-of-two length (from 128) that holds the
    prompt and doubles when full, up to the model's context, so early steps attend
    over a short cache (a step's cost grows with the cache's length; each length is
    compiled once). When the context is full the window slides: the last half of
    the context is run again into a fresh cache.

    Args:
        model: A `MusicTransformer`.
        batch: Rows decoded together.
        style: `(batch, style_dim)` style vectors, or None.
    """

    MIN_CACHE = 128

    def __init__(self, model: Any, batch: int, style: Any = None):
        self.model, self.batch, self.style = model, int(batch), style
        self.context = int(model.config.context)
        # The step has fixed shapes, so XLA compiles it once; it updates the cache in
        # place, which halves a step's time on CPU under TensorFlow (5 against 9 ms
        # for the small preset at batch 1). Under JAX the weights are baked in as
        # constants, which is right for inference.
        self.prefill = compiled(model, "prefill", model.prefill)
        self.step_fn = compiled(model, "call_with_cache", model.call_with_cache, xla=True)
        self.history = np.zeros((self.batch, 0), np.int32)
        self.cache, self.position = None, 0

    def start(self, tokens: np.ndarray) -> np.ndarray:
        """Run a prompt `(batch, P)`; the logits `(batch, vocab)` for what follows it."""
        self.history = np.asarray(tokens, np.int32)
        return self._restart(min(self.history.shape[1], self.context // 2 or 1))

    def _restart(self, window: int) -> np.ndarray:
        from keras import ops

        tokens = ops.convert_to_tensor(self.history[:, -window:])
        length = min(self.context, max(self.MIN_CACHE, 1 << (window - 1).bit_length()))
        with warnings.catch_warnings():  # Keras warns of a softmax over one key (BOS alone)
            warnings.filterwarnings("ignore", "You are using a softmax over axis", UserWarning)
            logits, self.cache = self.prefill(
                tokens, self.model.init_cache(self.batch, length), self.style
            )
        self.position = window
        return ops.convert_to_numpy(logits[:, -1])

    def step(self, token: np.ndarray) -> np.ndarray:
        """Feed one token per row `(batch,)`; the logits `(batch, vocab)` for the next."""
        from keras import ops

        token = np.asarray(token, np.int32)
        # Only the context's worth of tokens can ever be run again.
        self.history = np.concatenate([self.history[:, -self.context :], token[:, None]], axis=1)
        if self.position >= self.context:  # the context is full: slide the window by half
            return self._restart(self.context // 2)
        length = self.cache.shape[-2]
        if self.position >= length:  # the cache is full: double it
            grow = min(2 * length, self.context) - length
            pad = [[0, 0]] * (len(self.cache.shape) - 2) + [[0, grow], [0, 0]]
            self.cache = ops.pad(self.cache, pad)
        index = ops.convert_to_tensor(np.int32(self.position))
        logits, self.cache = self.step_fn(
            ops.convert_to_tensor(token[:, None]), self.cache, index, self.style
        )
        self.position += 1
        return ops.convert_to_numpy(logits[:, 0])


def _style_batch(model, style, batch):
    """`style` as a `(batch, style_dim)` float32 array, checked against the model."""
    style_dim = int(model.config.style_dim)
    if style is None:
        if style_dim:
            raise ConfigError(f"this model is conditioned on a style: pass a {style_dim}-d style")
        return None
    if not style_dim:
        raise ConfigError("this model takes no style vector")
    style = np.asarray(style, np.float32)
    if (
        style.shape[-1:] != (style_dim,)
        or style.ndim > 2
        or style.size // style_dim not in (1, batch)
    ):
        raise ConfigError(
            f"style must be {style_dim} values (or one row of them per sample), got {style.shape}"
        )
    return np.ascontiguousarray(np.broadcast_to(style.reshape(-1, style_dim), (batch, style_dim)))
