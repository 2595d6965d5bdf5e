"""Tests of genai_lib.metrics: mode coverage, the Fréchet distance, the digit classifier and digit metrics."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import linalg

from genai_lib.data import load_digits, mode_centres, mode_std, toy2d
from genai_lib.metrics import (
    EVAL_SIZE,
    ClassifierConfig,
    FeatureStats,
    class_accuracy,
    class_entropy,
    class_histogram,
    classify_digits,
    digits_classifier,
    digits_fd,
    digits_fd_floor,
    digits_features,
    digits_report,
    digits_split,
    entropy,
    feature_stats,
    frechet_distance,
    gaussian_fit_fd,
    gaussian_fit_samples,
    heldout_accuracy,
    mean_confidence,
    mode_metrics,
    reference_stats,
    train_digits_classifier,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One CPU thread for this module (restored afterwards): tiny models only lose from a second one
    on a loaded machine. (The classifier's training pins one thread itself.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def heldout_digits():
    images, labels = load_digits(8)
    _, held = digits_split()
    return images[held], labels[held]


# -- mode_metrics ----------------------------------------------------------------------------------


def test_mode_metrics_on_constructed_points():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    std = 0.5  # high quality: within 1.5 of a centre
    samples = torch.cat(
        [
            torch.zeros(25, 2),  # 25 good at mode 0
            torch.tensor([[10.0, 1.4]]).repeat(3, 1),  # 3 good at mode 1 (distance 1.4)
            torch.tensor([[0.0, 11.6]]).repeat(2, 1),  # 2 near mode 2 but too far (1.6 > 1.5)
        ]
    )
    m = mode_metrics(samples, centres, std)
    assert m.num_modes == 3 and m.num_samples == 30
    assert m.counts == (25, 3, 0)
    assert m.modes_covered == 2 and m.modes_well_covered == 1  # ≥ 1 and ≥ 20 high-quality samples
    assert m.high_quality_share == pytest.approx(28 / 30)
    assert mode_metrics(samples, centres, std, min_count=3).modes_well_covered == 2
    assert mode_metrics(samples.numpy(), centres.numpy(), std) == m
    assert m.as_dict()["counts"] == (25, 3, 0)


def test_mode_metrics_on_real_grid25_samples():
    samples = toy2d("grid25", 20_000, seed=1)
    m = mode_metrics(samples, mode_centres("grid25"), mode_std("grid25"))
    assert m.modes_covered == m.modes_well_covered == 25
    # For an isotropic 2-D Gaussian, P(‖z‖ ≤ 3) = 1 - exp(-4.5) = 0.98889; SE with n = 20,000 is 0.0007.
    assert abs(m.high_quality_share - (1 - math.exp(-4.5))) < 0.004


def test_mode_metrics_sees_collapse():
    centres = mode_centres("ring8")
    collapsed = centres[:2].repeat_interleave(500, dim=0) + 0.01 * torch.randn(1000, 2, generator=gen(0))
    m = mode_metrics(collapsed, centres, mode_std("ring8"))
    assert m.modes_covered == 2 and m.high_quality_share == 1.0


@pytest.mark.parametrize(
    "kwargs,exc,name",
    [
        (dict(samples=torch.zeros(3, 3)), ValueError, "dimension"),
        (dict(samples=torch.zeros(3)), ValueError, "samples"),
        (dict(samples=[[0.0, 0.0]]), TypeError, "samples"),
        (dict(std=0.0), ValueError, "std"),
        (dict(threshold=-1.0), ValueError, "threshold"),
        (dict(min_count=0), ValueError, "min_count"),
        (dict(samples=torch.tensor([[float("nan"), 0.0]])), ValueError, "samples"),
    ],
)
def test_mode_metrics_bad_arguments(kwargs, exc, name):
    args = dict(samples=torch.zeros(3, 2), centres=torch.zeros(2, 2), std=0.1) | kwargs
    extra = {k: args.pop(k) for k in ("threshold", "min_count") if k in args}
    with pytest.raises(exc, match=name):
        mode_metrics(args["samples"], args["centres"], args["std"], **extra)


# -- Fréchet distance ------------------------------------------------------------------------------


def test_frechet_distance_matches_direct_scipy_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    b = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8)) + 0.5
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    direct = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)  # FID's usual code
    assert frechet_distance(a, b) == pytest.approx(direct, rel=1e-9)
    assert frechet_distance(torch.from_numpy(b), a) == pytest.approx(direct, rel=1e-9)  # symmetric, tensors too
    assert frechet_distance(feature_stats(a), feature_stats(b)) == pytest.approx(direct, rel=1e-9)


def test_frechet_distance_closed_forms():
    d = 4
    eye = np.eye(d)
    stats = lambda mu, cov: FeatureStats(np.asarray(mu, float), np.asarray(cov, float), 100)
    assert frechet_distance(stats(np.zeros(d), eye), stats(np.zeros(d), eye)) == pytest.approx(0, abs=1e-12)
    assert frechet_distance(stats(np.zeros(d), eye), stats(np.full(d, 2.0), eye)) == pytest.approx(16.0)
    # N(0, a² I) vs N(0, b² I): d (a - b)²
    assert frechet_distance(stats(np.zeros(d), 4 * eye), stats(np.zeros(d), 9 * eye)) == pytest.approx(d * 1.0)
    singular = np.diag([1.0, 0.0, 0.0, 2.0])  # rank-deficient covariances (constant features) work
    assert frechet_distance(stats(np.zeros(d), singular), stats(np.zeros(d), singular)) == pytest.approx(0, abs=1e-7)
    with pytest.raises(ValueError, match="dimension"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="features"):
        feature_stats(np.zeros(5))


# -- the classifier ----------------------------------------------------------------------------------


def test_classifier_split_is_fixed_and_balanced():
    train_idx, held = digits_split()
    _, labels = load_digits(8)
    assert len(held) == EVAL_SIZE == 800 and len(train_idx) == 997
    assert set(train_idx.tolist()).isdisjoint(held.tolist())
    assert torch.equal(torch.bincount(labels[held]), torch.full((10,), 80))


def test_classifier_heldout_accuracy():
    acc = heldout_accuracy()  # measured: 0.9875
    assert acc >= 0.97
    assert digits_classifier() is digits_classifier()  # trained once per process


def test_classifier_training_is_deterministic_and_side_effect_free():
    cfg = ClassifierConfig(steps=40)
    state = torch.get_rng_state()
    a, b = train_digits_classifier(cfg), train_digits_classifier(cfg)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == 1  # the fixture's count
    with torch.no_grad():  # a first use inside no_grad still trains
        c = train_digits_classifier(cfg)
    assert torch.equal(next(c.parameters()), next(a.parameters()))


# -- digit metrics -----------------------------------------------------------------------------------


def test_digits_fd_matches_a_direct_computation():
    images, _ = heldout_digits()
    feats = digits_features(images)
    train_idx, _ = digits_split()
    ref = digits_features(load_digits(8)[0][train_idx])
    s1, s2 = np.cov(feats, rowvar=False), np.cov(ref, rowvar=False)
    direct = ((feats.mean(0) - ref.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert digits_fd(images) == pytest.approx(direct, rel=1e-6)
    assert digits_fd_floor() == pytest.approx(direct, rel=1e-6)
    assert digits_fd(images, reference=load_digits(8)[0][train_idx]) == pytest.approx(direct, rel=1e-6)
    assert digits_fd(images, reference=reference_stats()) == pytest.approx(direct, rel=1e-6)
    assert feats.shape == (800, 32)


def test_digits_fd_reference_points_and_ordering():
    floor, gauss = digits_fd_floor(), gaussian_fit_fd()
    # Measured on CPU: floor 2.73, Gaussian fit 24.8 (n = 800, seed 0); the ratio is what matters.
    assert 0 < floor < gauss / 5
    images, _ = heldout_digits()
    noisy = [digits_fd(images + s * torch.randn(images.shape, generator=gen(1))) for s in (0.2, 0.5)]
    assert floor < noisy[0] < noisy[1]  # more pixel noise, larger distance
    blurred = torch.nn.functional.avg_pool2d(images, 3, stride=1, padding=1, count_include_pad=False)
    assert digits_fd(blurred) > 2 * floor
    assert digits_fd(torch.randn(800, 1, 8, 8, generator=gen(2))) > 10 * gauss  # pure noise: far away
    g = gaussian_fit_samples()
    assert g.shape == (800, 1, 8, 8) and torch.equal(g, gaussian_fit_samples())


def test_histogram_entropy_confidence_accuracy():
    images, labels = heldout_digits()
    hist = class_histogram(images)
    assert hist.shape == (10,) and hist.sum() == 800 and (hist >= 70).all()
    assert class_entropy(images) > 2.29  # ln 10 = 2.3026 for a perfectly even histogram
    assert entropy(torch.ones(10)) == pytest.approx(math.log(10))
    assert entropy(torch.tensor([5, 0, 0])) == 0.0 and entropy(np.array([1, 1])) == pytest.approx(math.log(2))
    assert mean_confidence(images) > 0.95
    assert class_accuracy(images, labels) == pytest.approx(heldout_accuracy())
    probs = classify_digits(images)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(800))
    ones = images[labels == 1]
    assert class_histogram(ones).argmax() == 1 and class_entropy(ones) < 0.3
    report = digits_report(images)
    assert report.fd == pytest.approx(digits_fd_floor()) and report.histogram == tuple(hist.tolist())
    assert "digits FD" in str(report) and "nats" in str(report)
    with pytest.raises(ValueError, match="counts"):
        entropy(torch.zeros(3))
    with pytest.raises(ValueError, match="labels"):
        class_accuracy(images, labels[:5])


def test_digit_inputs_in_every_layout():
    images, labels = heldout_digits()
    base = digits_features(images[:50])
    for layout in (images[:50].reshape(50, 64), images[:50].reshape(50, 8, 8), images[:50].numpy()):
        np.testing.assert_array_equal(digits_features(layout), base)
    big, big_labels = load_digits(16)
    assert class_accuracy(big, big_labels) > 0.97  # 16×16 digits are read at 8×8 (to_8x8)
    for bad, exc in [
        (torch.zeros(4, 1, 9, 9), ValueError),
        (torch.zeros(4, 3, 8, 8), ValueError),
        (torch.full((4, 64), float("nan")), ValueError),
        ([0.0] * 64, TypeError),
    ]:
        with pytest.raises(exc, match="samples"):
            digits_fd(bad)


def test_importing_trains_nothing_and_changes_no_global_state():
    code = (
        "import torch; threads = torch.get_num_threads(); state = torch.get_rng_state()\n"
        "import genai_lib.metrics as m, genai_lib.diffusion\n"
        "assert m.classifier.digits_classifier.cache_info().currsize == 0\n"
        "assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), state)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_16x16_digits_are_read_back_at_8x8_exactly():
    """load_digits(16) upsamples; the metric inverts that, so real 16×16 digits sit on the 8×8 floor."""
    from genai_lib.metrics.digits import to_8x8

    small, _ = load_digits(8)
    big, _ = load_digits(16)
    assert (to_8x8(big) - small).abs().max() < 1e-4
    _, heldout_idx = digits_split()
    assert digits_fd(big[heldout_idx]) == pytest.approx(digits_fd(small[heldout_idx]), abs=1e-3)
    with pytest.raises(ValueError, match="images"):
        to_8x8(torch.zeros(2, 1, 8, 8))


# -- precision and recall ---------------------------------------------------------------------
def test_precision_recall_matches_a_brute_force_count():
    from genai_lib.metrics import precision_recall

    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(40, 3, generator=g), 0.5 + torch.randn(30, 3, generator=g)
    k = 3

    def radius(x, i):
        return sorted(float((x[i] - x[j]).norm()) for j in range(len(x)) if j != i)[k - 1]

    inside = lambda p, ball_set: any(float((p - c).norm()) <= radius(ball_set, i) for i, c in enumerate(ball_set))
    want_p = sum(inside(f, real) for f in fake) / len(fake)
    want_r = sum(inside(r, fake) for r in real) / len(real)
    got = precision_recall(real, fake.numpy(), k=k)
    assert abs(got.precision - want_p) < 1e-12 and abs(got.recall - want_r) < 1e-12
    assert 0 < got.precision < 1 and 0 < got.recall < 1


def test_precision_recall_separates_realism_from_variety():
    from genai_lib.metrics import precision_recall

    g = torch.Generator().manual_seed(1)
    left, right = torch.randn(100, 2, generator=g) - 10, torch.randn(100, 2, generator=g) + 10
    real = torch.cat([left, right])
    assert precision_recall(real, real) == (1.0, 1.0)
    one_mode = precision_recall(real, torch.randn(100, 2, generator=g) - 10)  # realistic, half the variety
    assert one_mode.precision > 0.9 and 0.4 < one_mode.recall < 0.55
    assert precision_recall(real, torch.randn(50, 2, generator=g) + 100) == (0.0, 0.0)


def test_precision_recall_bad_arguments():
    from genai_lib.metrics import precision_recall

    x = torch.randn(10, 4)
    with pytest.raises(ValueError, match="same feature size"):
        precision_recall(x, torch.randn(10, 3))
    with pytest.raises(ValueError, match="k=9 needs at least 10"):
        precision_recall(x, torch.randn(9, 4), k=9)
    with pytest.raises(ValueError, match=r"real must have shape \(n, d\)"):
        precision_recall(torch.randn(10), x)
    with pytest.raises(ValueError, match="fake must be finite"):
        precision_recall(x, torch.full((10, 4), float("nan")))
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        precision_recall(x, x, k=0)


# -- memorisation --------------------------------------------------------------------------------


def _pixels(split):
    images, _ = load_digits(8, split=split)
    return images.reshape(len(images), -1)


def test_memorisation_tells_copies_from_new_digits():
    from genai_lib.metrics import memorisation

    train, held = _pixels("train"), _pixels("held_out")
    gen = torch.Generator().manual_seed(0)
    # Real digits the "model" never saw: as far from the training set as held-out data, by definition.
    fresh = memorisation(held[:400], train, held[400:])
    assert 0.0 < fresh.copy_share < 0.15 and 0.8 < fresh.median_ratio < 1.25
    # A copier: training digits with a little noise.
    copies = train[torch.randint(len(train), (300,), generator=gen)] + 0.05 * torch.randn(300, 64, generator=gen)
    copied = memorisation(copies, train, held)
    assert copied.copy_share > 0.95 and copied.median_ratio < 0.3
    assert torch.allclose(copied.sample_distance, (copies - train[copied.nearest]).norm(dim=1), atol=1e-5)
    # The held-out share is the quantile asked for, up to ties.
    assert abs(copied.held_out_share - 0.05) < 0.01
    assert copied.threshold == pytest.approx(torch.quantile(copied.held_out_distance.double(), 0.05).item(), rel=1e-5)


def test_nearest_neighbours_is_exact_across_chunks():
    from genai_lib.metrics import nearest_neighbours

    gen = torch.Generator().manual_seed(1)
    points, reference = torch.randn(50, 3, generator=gen), torch.randn(70, 3, generator=gen)
    d, i = nearest_neighbours(points, reference, chunk=7)
    brute = torch.tensor([[float((p - r).norm()) for r in reference] for p in points])
    assert torch.allclose(d, brute.min(dim=1).values, atol=1e-5) and torch.equal(i, brute.argmin(dim=1))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"samples": torch.zeros(5, 3)}, ValueError, "same width"),
        ({"samples": "x"}, TypeError, "samples"),
        ({"held_out": torch.full((4, 64), float("nan"))}, ValueError, "held_out"),
        ({"train": torch.zeros(64)}, ValueError, "train"),
        ({"quantile": 0.0}, ValueError, "quantile"),
        ({"quantile": "0.1"}, TypeError, "quantile"),
    ],
)
def test_memorisation_argument_errors_name_the_argument(kwargs, error, match):
    from genai_lib.metrics import memorisation

    args = {"samples": torch.zeros(5, 64), "train": torch.randn(10, 64), "held_out": torch.randn(6, 64), **kwargs}
    with pytest.raises(error, match=match):
        memorisation(**args)
