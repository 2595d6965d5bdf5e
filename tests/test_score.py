"""Tests of genai_lib.diffusion.score: the exact mixture score, the ε/x0/v/score conversions, Langevin, the
reverse SDE, and DDIM (η = 0) as Euler on the probability-flow ODE in σ (against the library's DDIM step and
diffusers' EulerDiscreteScheduler)."""

from __future__ import annotations

import math

import pytest
import torch

from genai_lib.diffusion import DDIMSampler, NoiseSchedule
from genai_lib.diffusion import score as sc

pytestmark = pytest.mark.usefixtures("one_thread")


def ring(std: float = 0.3) -> sc.GaussianMixture:
    return sc.GaussianMixture.from_toy2d("ring8", std=std)


@pytest.mark.parametrize("abar", [1.0, 0.7, 0.05])
def test_score_is_the_gradient_of_log_prob(abar) -> None:
    gm = sc.GaussianMixture(
        torch.tensor([[0.0, 0.0], [2.0, 1.0], [-1.0, 2.5]]), std=0.4, weights=torch.tensor([0.2, 0.5, 0.3])
    )
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64).float() * 2
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(gm.log_prob(x, abar).sum(), x)
    assert torch.allclose(gm.score(x.detach(), abar), grad, atol=1e-5)


def test_log_prob_of_one_gaussian_and_per_sample_abar() -> None:
    gm = sc.GaussianMixture(torch.tensor([[1.0, -1.0]]), std=0.5)
    x = torch.randn(5, 2)
    abar = torch.tensor([1.0, 0.8, 0.5, 0.2, 0.01])
    var = abar * 0.25 + 1 - abar
    diff = x - abar.sqrt()[:, None] * torch.tensor([1.0, -1.0])
    want = -0.5 * (diff**2).sum(1) / var - torch.log(2 * math.pi * var)
    assert torch.allclose(gm.log_prob(x, abar), want, atol=1e-5)
    for i in range(5):  # one value per sample is the same as each value alone
        assert torch.allclose(gm.score(x, abar)[i], gm.score(x[i : i + 1], float(abar[i]))[0], atol=1e-6)


def test_tweedie_posterior_mean_matches_monte_carlo() -> None:
    """E[x0 | x_t] from Tweedie's formula equals the average x0 of samples whose x_t falls near a point."""
    gm = ring(0.3)
    gen = torch.Generator().manual_seed(1)
    abar = 0.5
    x0 = gm.sample(400_000, gen)
    xt = math.sqrt(abar) * x0 + math.sqrt(1 - abar) * torch.randn(x0.shape, generator=gen)
    point = torch.tensor([[0.9, 0.4]])
    near = ((xt - point) ** 2).sum(1) < 0.05**2
    assert near.sum() > 200
    mc = x0[near].mean(0)
    assert torch.allclose(gm.posterior_mean(point, abar)[0], mc, atol=0.06), (gm.posterior_mean(point, abar), mc)
    # and the ideal ε-prediction is -√(1-ᾱ) × score
    assert torch.allclose(gm.eps(point, abar), -math.sqrt(1 - abar) * gm.score(point, abar))


def test_sample_moments_and_noised_marginal() -> None:
    gm = ring(0.3)
    x = gm.sample(200_000, torch.Generator().manual_seed(2))
    assert torch.allclose(x.mean(0), gm.mean(), atol=0.02)
    assert torch.allclose(torch.cov(x.T), gm.covariance(), atol=0.03)
    xn = gm.sample(200_000, torch.Generator().manual_seed(3), abar=0.3)
    want = 0.3 * gm.covariance() + 0.7 * torch.eye(2)
    assert torch.allclose(torch.cov(xn.T), want, atol=0.03)


@pytest.mark.parametrize("source", sc.PREDICTION_KINDS)
@pytest.mark.parametrize("target", sc.PREDICTION_KINDS)
def test_conversions_round_trip(source, target) -> None:
    gen = torch.Generator().manual_seed(4)
    x_t, pred = torch.randn(16, 3, generator=gen), torch.randn(16, 3, generator=gen)
    abar = torch.rand(16, generator=gen) * 0.98 + 0.01
    there = sc.convert_prediction(pred, source, target, x_t, abar)
    back = sc.convert_prediction(there, target, source, x_t, abar)
    assert torch.allclose(back, pred, atol=1e-4, rtol=1e-4)


def test_conversions_of_the_true_quantities() -> None:
    """From a real (x0, ε) pair: each kind's target converts to the true ε, and x0 to the library's predict_x0."""
    gen = torch.Generator().manual_seed(5)
    x0, eps = torch.randn(32, 2, generator=gen), torch.randn(32, 2, generator=gen)
    schedule = NoiseSchedule("cosine", 1000)
    t = torch.randint(0, 1000, (32,), generator=gen)
    abar = schedule.alphas_cumprod[t]
    x_t = schedule.add_noise(x0, eps, t)
    v = sc.v_target(x0, eps, abar)
    assert torch.allclose(sc.to_eps(v, "v", x_t, abar), eps, atol=1e-4)
    assert torch.allclose(sc.from_eps(eps, "v", x_t, abar), v, atol=1e-3)
    assert torch.allclose(sc.to_eps(x0, "x0", x_t, abar), eps, atol=1e-2)
    assert torch.allclose(sc.from_eps(eps, "x0", x_t, abar), schedule.predict_x0(x_t, eps, t), atol=1e-5)
    # v is the velocity of x_t on the circle (cos φ, sin φ): d x_t / dφ
    phi = torch.tensor(0.7)
    d = torch.func.jacrev(lambda p: torch.cos(p) * x0 + torch.sin(p) * eps)(phi)
    assert torch.allclose(d, sc.v_target(x0, eps, float(torch.cos(phi) ** 2)), atol=1e-5)


def test_implied_weight_is_the_error_ratio() -> None:
    gen = torch.Generator().manual_seed(6)
    x_t, eps, err = torch.randn(8, 2, generator=gen), torch.randn(8, 2, generator=gen), torch.randn(8, 2, generator=gen)
    for abar in (0.02, 0.5, 0.97):
        lam = torch.tensor(math.log(abar / (1 - abar)))
        for kind in sc.PREDICTION_KINDS:
            a = sc.from_eps(eps + err, kind, x_t, abar) - sc.from_eps(eps, kind, x_t, abar)
            ratio = (a**2).sum() / (err**2).sum()
            assert math.isclose(float(ratio), float(sc.implied_weight(kind, lam)), rel_tol=1e-4), (kind, abar)


def test_langevin_samples_a_gaussian() -> None:
    gm = sc.GaussianMixture(torch.tensor([[1.0, -2.0]]), std=0.7)
    x = torch.zeros(20_000, 2)
    out = sc.langevin_sample(gm.score, x, 0.01, 800, torch.Generator().manual_seed(7))
    assert torch.allclose(out.mean(0), torch.tensor([1.0, -2.0]), atol=0.03)
    assert torch.allclose(out.std(0), torch.tensor([0.7, 0.7]), atol=0.03)
    traj = sc.langevin_sample(gm.score, x[:4], 0.01, 5, torch.Generator().manual_seed(7), return_trajectory=True)
    assert traj.shape == (6, 4, 2)


def test_langevin_step_formula() -> None:
    x, s = torch.randn(4, 2), torch.randn(4, 2)
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(8))
    got = sc.langevin_step(x, s, 0.1, torch.Generator().manual_seed(8))
    assert torch.allclose(got, x + 0.1 * s + math.sqrt(0.2) * z)


def _schedule_abars(n: int) -> torch.Tensor:
    schedule = NoiseSchedule("cosine", 1000)
    ts = torch.linspace(999, 0, n).round().long()
    return torch.cat([schedule.alphas_cumprod[ts].double(), torch.ones(1, dtype=torch.float64)])


def test_reverse_sde_and_pf_ode_sample_the_mixture() -> None:
    """With the exact score, both samplers carry N(0, I) to the mixture: its mean and covariance."""
    gm = ring(0.3)
    abars = _schedule_abars(200)
    gen = torch.Generator().manual_seed(9)
    x_sde = x_ode = torch.randn(20_000, 2, generator=gen)
    for a_t, a_s in zip(abars[:-1].tolist(), abars[1:].tolist()):
        x_sde = sc.reverse_sde_step(x_sde, gm.score(x_sde, a_t), a_t, a_s, gen)
        x_ode = sc.pf_ode_step(x_ode, gm.score(x_ode, a_t), a_t, a_s)
    for x in (x_sde, x_ode):
        assert torch.allclose(x.mean(0), gm.mean(), atol=0.05)
        assert torch.allclose(torch.cov(x.T), gm.covariance(), atol=0.1)


def test_ddim_eta0_is_euler_in_sigma() -> None:
    """The library's DDIM step (η = 0) equals one Euler step of dy/dσ = ε̂ in y = x/√ᾱ, to float tolerance."""
    schedule = NoiseSchedule("cosine", 1000)
    ddim = DDIMSampler(schedule, 20, eta=0.0)
    gm = ring(0.3)
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float32)
    for t in ddim.timesteps.tolist():
        a_t = float(schedule.alphas_cumprod[t])
        prev_t = t - ddim.step_ratio
        a_s = float(schedule.alphas_cumprod[prev_t]) if prev_t >= 0 else 1.0
        eps = gm.eps(x, a_t)
        want = ddim.step(eps, t, x).prev_sample
        got = sc.euler_sigma_step(x, eps, a_t, a_s)
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-5), (t, (got - want).abs().max())
        x = want


def test_ddim_eta0_matches_diffusers_euler_scheduler() -> None:
    """diffusers' EulerDiscreteScheduler, which integrates dy/dσ = ε̂ on the σ grid of the same timesteps,
    takes the same steps as DDIM (η = 0) once its sample y is mapped back to x = y/√(1 + σ²)."""
    diffusers = pytest.importorskip("diffusers")
    schedule = NoiseSchedule("linear", 1000)
    n = 25
    ddim = DDIMSampler(schedule, n, eta=0.0)
    euler = diffusers.EulerDiscreteScheduler(
        num_train_timesteps=1000, beta_schedule="linear", timestep_spacing="leading", steps_offset=0
    )
    euler.set_timesteps(n)
    assert euler.timesteps.long().tolist() == ddim.timesteps.tolist()
    gm = ring(0.3)
    x = torch.randn(128, 2, generator=torch.Generator().manual_seed(11))
    y = x / schedule.alphas_cumprod[ddim.timesteps[0]].sqrt()  # diffusers samples y = x/√ᾱ
    for i, t in enumerate(ddim.timesteps.tolist()):
        eps = gm.eps(x, float(schedule.alphas_cumprod[t]))
        x = ddim.step(eps, t, x).prev_sample
        euler.scale_model_input(y, euler.timesteps[i])
        y = euler.step(eps, euler.timesteps[i], y).prev_sample
        sigma_next = float(euler.sigmas[i + 1])
        assert torch.allclose(y / math.sqrt(1 + sigma_next**2), x, atol=1e-4, rtol=1e-4), (i, t)


def test_sigma_from_abar() -> None:
    assert torch.allclose(sc.sigma_from_abar(torch.tensor([0.5, 0.2])), torch.tensor([1.0, 2.0]))
    assert float(sc.sigma_from_abar(1.0)) == 0.0


def test_validation_names_the_argument() -> None:
    gm = ring()
    with pytest.raises(ValueError, match="abar"):
        gm.score(torch.zeros(3, 2), 1.5)
    with pytest.raises(ValueError, match="x must have shape"):
        gm.score(torch.zeros(3, 3), 0.5)
    with pytest.raises(ValueError, match="means"):
        sc.GaussianMixture(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="std"):
        sc.GaussianMixture(torch.zeros(3, 2), 0.0)
    with pytest.raises(ValueError, match="weights"):
        sc.GaussianMixture(torch.zeros(2, 2), 1.0, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="kind"):
        sc.to_eps(torch.zeros(2, 2), "noise", torch.zeros(2, 2), 0.5)
    with pytest.raises(ValueError, match="pred"):
        sc.to_eps(torch.zeros(2, 2), "v", torch.zeros(3, 2), 0.5)
    with pytest.raises(ValueError, match="step_size"):
        sc.langevin_step(torch.zeros(2, 2), torch.zeros(2, 2), 0.0)
    with pytest.raises(TypeError, match="score_fn"):
        sc.langevin_sample(3, torch.zeros(2, 2), 0.1, 2)
    with pytest.raises(ValueError, match="abar_s"):
        sc.pf_ode_step(torch.zeros(2, 2), torch.zeros(2, 2), 0.5, 0.4)
    with pytest.raises(TypeError, match="eps"):
        sc.euler_sigma_step(torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.long), 0.5, 0.6)
