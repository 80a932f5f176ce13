"""One preprocessor for training and inference: the same segment gives the same
model inputs through the tf.data training pipeline and through `groove transfer`."""

from __future__ import annotations

import numpy as np
import pytest

from groove import midi
from groove.data.corpus import build_corpus
from groove.data.pipeline import load_tokenizer, read_triplets, write_triplets
from groove.data.segments import segments
from groove.midi.roles import TRANSFER_ROLES
from groove.models.transfer.config import TransferDataConfig
from groove.models.transfer.preprocessor import TransferPreprocessor, transfer_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    manifest = build_corpus(corpus, 8, 6, styles_per_chart=3, progress=False)
    out = tmp_path_factory.mktemp("triplets")
    write_triplets(corpus, out, splits=["train"], progress=False)
    return corpus, manifest, out


def render(corpus, manifest, chart, style):
    item = next(i for i in manifest["items"] if i["chart"] == chart and i["style"] == style)
    return midi.load(corpus / item["file"])


def test_training_and_inference_make_identical_inputs_for_the_same_segment(data):
    corpus, manifest, out = data
    pre = TransferPreprocessor(load_tokenizer(out), TransferDataConfig(style_tokens=64))
    records = list(read_triplets(out, "train"))
    # The tf.data pipeline, in stored order, one example per batch (no padding).
    batches = transfer_dataset(out, "train", batch_size=1, shuffle=False,
                               bucket_boundaries=None, preprocessor=pre)  # fmt: skip
    checked = 0
    for t, (x, _) in zip(records, batches.as_numpy_iterator(), strict=False):
        info = t.info
        if info["segment"] or info["example_segment"]:
            continue  # segment 0 of each piece: inference cuts songs from their start
        content = render(corpus, manifest, info["chart"], info["content_style"])
        example = render(corpus, manifest, info["example_chart"], info["target_style"])
        # What `groove transfer` makes of that song and that style example.
        inputs, windows, pairs = pre.segment_batch(content, example, [t.role])
        assert pairs[0] == (0, t.role) and windows[0] == segments(content, 8)[0]
        row = {name: value[:1] for name, value in inputs.items()}
        frames = row["content"].shape[1]
        assert frames == x["content"].shape[1]
        for name in ("content", "content_mask", "style", "role"):
            want = x[name]
            got = row[name][:, : want.shape[1]] if name == "style" else row[name]
            np.testing.assert_array_equal(got, want, err_msg=name)
            assert got.dtype == want.dtype, name
        assert not row["style"][:, x["style"].shape[1] :].any()  # the rest is padding
        assert row["role"][0] == TRANSFER_ROLES.index(t.role)
        checked += 1
        if checked == 6:
            break
    assert checked == 6
