"""The exact tails behind alert z-scores (README, Spike alerts: "z-scores are exact (Poisson and
binomial tails turned into normal quantiles), not normal approximations"), checked against
references computed another way: the complement of the lower sum, in exact or 400-digit arithmetic."""
from __future__ import annotations

import math
from decimal import Decimal, getcontext
from fractions import Fraction

import pytest

from mmstream.analytics.engine.alerts import binomial_tail, poisson_tail, z_of

getcontext().prec = 400


def poisson_reference(k: int, mean: float) -> float:
    """log P(X >= k), X ~ Poisson(mean): 1 - e^-m * sum_{j<k} m^j / j!, the sum exact."""
    m = Fraction(mean)
    lower = sum(m ** j / math.factorial(j) for j in range(k))
    below = Decimal(lower.numerator) / Decimal(lower.denominator) * (-Decimal(mean)).exp()
    return float((1 - below).ln())


def binomial_reference(k: int, n: int, p: float) -> float:
    """log P(X >= k), X ~ Binomial(n, p), exact in rationals."""
    q = Fraction(p)
    tail = sum(math.comb(n, j) * q ** j * (1 - q) ** (n - j) for j in range(k, n + 1))
    return float((Decimal(tail.numerator) / Decimal(tail.denominator)).ln())


@pytest.mark.parametrize(("k", "mean"), [(1, 0.5), (5, 2.0), (20, 6.5), (41, 12.333), (60, 20.0), (150, 12.0)])
def test_poisson_tail_is_exact(k, mean):
    assert poisson_tail(k, mean) == pytest.approx(poisson_reference(k, mean), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("k", "n", "p"), [(1, 10, 0.2), (12, 30, 0.2), (22, 41, 0.5135), (30, 40, 0.25), (3, 3, 0.9)])
def test_binomial_tail_is_exact(k, n, p):
    assert binomial_tail(k, n, p) == pytest.approx(binomial_reference(k, n, p), rel=1e-9, abs=1e-12)


def test_nothing_to_exceed_is_certain():
    assert poisson_tail(0, 3.0) == 0.0 and binomial_tail(0, 10, 0.3) == 0.0


@pytest.mark.parametrize("z", [0.5, 1.0, 2.5, 4.0, 6.0, 8.0])
def test_z_is_the_normal_quantile_of_the_tail(z):
    assert z_of(math.log(math.erfc(z / math.sqrt(2)) / 2)) == pytest.approx(z, rel=1e-7)
    assert z_of(math.log(0.5)) == pytest.approx(0.0, abs=1e-12)


def test_the_readme_example_and_why_not_the_normal_approximation():
    # README's alert: 41 posts where the baseline predicts 12.333 -> z 6.36
    z = z_of(poisson_tail(41, 12.333))
    assert round(z, 2) == 6.36
    # the normal approximation (k - m) / sqrt(m) says 8.16: far more alarming than the exact tail
    assert (41 - 12.333) / math.sqrt(12.333) > z + 1.5
    # on a small count the approximation fires where the exact tail does not: 8 posts against 2 expected
    assert (8 - 2) / math.sqrt(2) > 4 > z_of(poisson_tail(8, 2.0))


def test_far_tails_stay_finite_and_grow():
    zs = [z_of(poisson_tail(k, 5.0)) for k in (100, 400, 1600)]
    assert all(math.isfinite(z) for z in zs) and zs == sorted(zs) and zs[0] > 10
