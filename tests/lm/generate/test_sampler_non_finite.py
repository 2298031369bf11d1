"""Logits that are not finite (weights that overflow) are no distribution: every way of drawing
refuses them (UnusableWeights) instead of answering some token."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.errors import UnusableWeights
from charlm.lm.generate.sampler import Sampler
from tests.lm.generate.test_sampler import fixed_distribution

DRAWS = [{}, {"greedy": True}, {"top_k": 2}, {"top_p": 0.5}, {"top_k": 3, "top_p": 0.9}]


def seeded(draw: dict) -> dict:
    """The draw's settings with a seed, but for greedy decoding, which draws nothing (and refuses one)."""
    return draw if draw.get("greedy") else {**draw, "seed": 0}


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("draw", DRAWS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_logit_that_is_not_finite_is_refused(bad, draw, dtype):
    logits = np.array([0.5, 1.0, bad, -0.3, 0.0, 2.0, 0.1])
    sampler = Sampler(fixed_distribution(logits, dtype), **seeded(draw))
    with pytest.raises(UnusableWeights):
        sampler.run(5, num_samples=2)


@pytest.mark.parametrize("draw", DRAWS)
def test_finite_logits_still_draw_every_way(draw):
    """The check costs no token: large but finite logits draw as before."""
    logits = np.array([0.5, 1.0, -3e38, -0.3, 0.0, 2.0, 0.1], np.float32)
    ids, _ = Sampler(fixed_distribution(logits), **seeded(draw)).run(50)
    assert ids.min() >= 0 and ids.max() < logits.size and 2 not in ids
