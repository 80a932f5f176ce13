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


def transfer(content, style, model=None, roles=None, **kwargs):
    """Play `content` again in the style of `style`; see `groove.style_transfer.transfer`.

    >>> out = groove.transfer("song.mid", "style.mid", seed=0)      # doctest: +SKIP
    """
    from groove.style_transfer import transfer as run

    return run(content, style, model=model, roles=roles, **kwargs)


def style_embedding(style, model=None, role=None):
    """The style encoder's vector for a style example; see
    `groove.style_transfer.style_embedding`.

    >>> v = groove.style_embedding("style.mid", role="drums")        # doctest: +SKIP
    """
    from groove.style_transfer import style_embedding as embed

    return embed(style, model=model, role=role)


def generate(primer=None, model=None, **kwargs):
    """Compose music, or continue `primer`, with the Music Transformer; see
    `groove.generation.generate`.

    >>> pm = groove.generate(seconds=20, seed=0)                     # doctest: +SKIP
    >>> pms = groove.generate("start.mid", num_samples=4, top_p=0.95) # doctest: +SKIP
    """
    from groove.generation import generate as run

    return run(primer, model=model, **kwargs)
