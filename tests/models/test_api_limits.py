"""The Python API refuses what the CLI refuses (issue 15): a `ConfigError` naming the
value, before any model is loaded or any work is done."""

from __future__ import annotations

import math

import numpy as np
import pytest

import groove
from groove.errors import ConfigError
from groove.models.sampling import (
    MAX_GENERATE_SECONDS,
    MAX_GENERATE_TOKENS,
    MAX_SAMPLES,
    MAX_SEED,
    make_sampler,
    seeded,
)

NOT_A_MODEL = object()  # resolving it would fail: the checks must come first


@pytest.mark.parametrize("temperature", [math.inf, -1.0, math.nan])
def test_a_temperature_that_samples_nothing_is_refused(temperature):
    with pytest.raises(ConfigError, match="temperature"):
        make_sampler(temperature)


def test_seeds_are_integers_from_0_to_max_seed():
    assert seeded(MAX_SEED).random() == np.random.default_rng(MAX_SEED).random()
    rng = np.random.default_rng(3)
    assert seeded(rng) is rng
    for bad in (-1, MAX_SEED + 1, 1.5, "3", True):
        with pytest.raises(ConfigError, match="seed"):
            seeded(bad)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seconds": math.inf}, "seconds"),
        ({"seconds": 1e300}, "seconds"),
        ({"seconds": MAX_GENERATE_SECONDS + 1}, "seconds"),
        ({"max_tokens": MAX_GENERATE_TOKENS + 1}, "max_tokens"),
        ({"num_samples": MAX_SAMPLES + 1}, "num_samples"),
        ({"num_samples": 0}, "num_samples"),
        ({"seed": -1}, "seed"),
        ({"temperature": math.inf}, "temperature"),
    ],
)
def test_generate_refuses_before_loading_a_model(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        groove.generate(model=NOT_A_MODEL, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"roles": []}, "roles is empty"),
        ({"seed": -1}, "seed"),
        ({"temperature": math.inf}, "temperature"),
    ],
)
def test_transfer_refuses_before_decoding(kwargs, match):
    song, style = groove.example_path("song.mid"), groove.example_path("style.mid")
    with pytest.raises(ConfigError, match=match):
        groove.transfer(song, style, model=NOT_A_MODEL, **kwargs)
