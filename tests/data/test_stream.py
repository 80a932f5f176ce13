"""Triplets streamed from a corpus plan (`groove.data.stream`) and their numpy batches
(`TransferPreprocessor.batches`): the training data of a run with no stored triplets."""

import itertools

import numpy as np
import pytest

from groove.data.corpus import CORPUS_OPTIONS, plan_corpus
from groove.data.stream import stream_triplets
from groove.data.triplets import corpus_triplets
from groove.errors import ConfigError
from groove.midi.roles import TRANSFER_ROLES
from groove.models.transfer.config import TransferDataConfig
from groove.models.transfer.preprocessor import MAX_BAR_BEATS, TransferPreprocessor
from groove.tokenizers import DurationTokenizer

TOK = DurationTokenizer()


@pytest.fixture(scope="module")
def plan():
    return plan_corpus(40, 30, seed=3, **CORPUS_OPTIONS)


def key(t):
    return (t.role, t.content.tobytes(), t.style.tobytes(), t.target.tobytes(), t.bar_beats)


def test_one_unshuffled_pass_is_exactly_the_stored_triplets(plan):
    stored = list(corpus_triplets(plan, "test", tokenizer=TOK, seed=5, max_tokens=511))
    streamed = list(stream_triplets(plan, "test", tokenizer=TOK, seed=5, max_tokens=511,
                                    repeat=False, shuffle=False))  # fmt: skip
    assert len(stored) > 50
    assert [key(t) for t in streamed] == [key(t) for t in stored]
    # Two workers cut the same triplets in the same order.
    parallel = list(stream_triplets(plan, "test", tokenizer=TOK, seed=5, max_tokens=511,
                                    repeat=False, shuffle=False, workers=2))  # fmt: skip
    assert [key(t) for t in parallel] == [key(t) for t in stored]


def test_a_shuffled_pass_holds_the_same_triplets_in_a_seeded_order(plan):
    stored = sorted(key(t) for t in corpus_triplets(plan, "val", tokenizer=TOK, seed=0))
    a = [key(t) for t in stream_triplets(plan, "val", tokenizer=TOK, repeat=False, seed=0)]
    b = [key(t) for t in stream_triplets(plan, "val", tokenizer=TOK, repeat=False, seed=0)]
    assert sorted(a) == stored and a == b
    assert a != sorted(a, key=lambda k: stored.index(k))  # not the stored order


def test_repeating_passes_pair_new_style_examples(plan):
    one_pass = [key(t) for t in stream_triplets(plan, "val", tokenizer=TOK, repeat=False)]
    stream = stream_triplets(plan, "val", tokenizer=TOK, seed=1)
    many = [key(t) for t in itertools.islice(stream, 3 * len(one_pass))]
    # The same contents and targets come back (passes mix in the shuffle buffer)...
    targets = {(k[0], k[1], k[3]) for k in one_pass}
    assert {(k[0], k[1], k[3]) for k in many} <= targets
    # ...paired with other style examples than in one pass.
    assert len(set(many)) > len(set(one_pass))


def test_a_split_without_charts_is_a_clear_error(plan):
    with pytest.raises(ConfigError, match="no charts"):
        next(stream_triplets(plan, "nonsense", tokenizer=TOK))


def test_batches_have_few_fixed_shapes_and_the_examples_inputs(plan):
    settings = TransferDataConfig(max_tokens=511, style_tokens=256)
    pre = TransferPreprocessor(TOK, settings)
    triplets = list(corpus_triplets(plan, "test", tokenizer=TOK, max_tokens=511))
    frames = settings.bars * MAX_BAR_BEATS * settings.frames_per_beat
    batches = list(pre.batches(iter(triplets), 4))
    assert len(batches) >= len(triplets) // 4 - 3  # at most one partial batch per bucket
    shapes = set()
    for x, y in batches:
        assert x["content"].shape == (4, frames, 128) and x["style"].shape == (4, 256)
        assert x["tokens"].shape == y.shape and y.shape[1] in (256, 512)
        shapes.add(y.shape)
    assert len(shapes) <= 2
    # The first batch holds the first 4 triplets of its bucket, as `example` makes them.
    x, y = batches[0]
    bound = y.shape[1]
    rows = [t for t in triplets if len(t.target) + 1 <= bound and (
        bound == 256 or len(t.target) + 1 > 256)][:4]  # fmt: skip
    for i, t in enumerate(rows):
        inputs, target = pre.example(t.content, t.style, TRANSFER_ROLES.index(t.role),
                                     t.target, t.bar_beats)  # fmt: skip
        n = len(target)
        np.testing.assert_array_equal(y[i, :n], target)
        assert (y[i, n:] == TOK.pad_id).all()
        np.testing.assert_array_equal(x["tokens"][i, :n], inputs["tokens"])
        frames_i = len(inputs["content"])
        np.testing.assert_array_equal(x["content"][i, :frames_i], inputs["content"])
        assert x["content_mask"][i].sum() == frames_i
        assert x["bar_beats"][i] == t.bar_beats and x["role"][i] == inputs["role"]
