"""groove: symbolic music generation and one-shot style transfer.

Importing `groove` is cheap: TensorFlow is imported only by the parts that
train or run models. The main jobs are one call each:

    >>> out = groove.transfer("song.mid", "style.mid", seed=0)       # doctest: +SKIP
    >>> v = groove.style_embedding("style.mid", role="drums")        # doctest: +SKIP
    >>> [pm] = groove.generate(seconds=20, seed=0)                   # doctest: +SKIP
    >>> pms = groove.generate("start.mid", num_samples=4, top_p=0.95) # doctest: +SKIP

    >>> from groove import midi, tokenizers
    >>> score = midi.load("song.mid")                                # doctest: +SKIP
    >>> ids = tokenizers.PerformanceTokenizer().encode(score)        # doctest: +SKIP

`groove.transfer`, `groove.style_embedding` and `groove.generate` are the task
functions themselves (`groove.models.transfer.task`, `groove.models.music_transformer.task`),
loaded on first use, so `help(groove.transfer)` shows every option.
"""

from importlib import resources

from groove.lazy import exports

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first use: PEP 562).
_LAZY = {
    "transfer": "groove.models.transfer.task",
    "style_embedding": "groove.models.transfer.task",
    "generate": "groove.models.music_transformer.task",
}

__all__ = ["example_path", "generate", "style_embedding", "transfer"]


def example_path(name: str = "chorale.mid") -> str:
    """Path of a MIDI file bundled with groove: "chorale.mid", "band.mid", or the
    style-transfer demo's "song.mid" and "style.mid"."""
    return str(resources.files("groove") / "examples" / name)


__getattr__ = exports(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
