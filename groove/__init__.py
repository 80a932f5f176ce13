"""groove: symbolic music generation and one-shot style transfer.

Importing `groove` is cheap: TensorFlow is imported only by the parts that
train or run models.

    >>> from groove import midi, tokenizers
    >>> score = midi.load("song.mid")                                # doctest: +SKIP
    >>> ids = tokenizers.PerformanceTokenizer().encode(score)        # doctest: +SKIP
"""

from importlib import resources

__version__ = "0.1.0"


def example_path(name: str = "chorale.mid") -> str:
    """Path of a MIDI file bundled with groove ("chorale.mid" or "band.mid")."""
    return str(resources.files("groove") / "examples" / name)
