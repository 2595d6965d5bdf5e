"""Flow matching (genai_lib.diffusion.flow) and the ODE samplers (genai_lib.diffusion.ode)."""

from __future__ import annotations

import math

import pytest
import torch

from genai_lib.diffusion import MLPDenoiser, TrainerConfig
from genai_lib.diffusion.flow import FlowTrainer, VelocityMLP, flow_matching_loss, linear_path
from genai_lib.diffusion.ode import EulerSampler, HeunSampler, ode_times

pytestmark = pytest.mark.usefixtures("one_thread")

# -- the objective -------------------------------------------------------------------------------


def test_linear_path_ends_and_midpoint() -> None:
    x0, x1 = torch.zeros(3, 2), torch.ones(3, 2) * 4
    xt = linear_path(x0, x1, torch.tensor([0.0, 0.25, 1.0]))
    assert torch.equal(xt, torch.tensor([[0.0, 0.0], [1.0, 1.0], [4.0, 4.0]]))


def test_loss_target_on_a_hand_case() -> None:
    """x_0 = (1, 0), x_1 = (3, 2), t = 1/2: x_t = (2, 1) and the target is x_1 - x_0 = (2, 2)."""
    seen = {}

    def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen["x"], seen["t"] = x.clone(), t.clone()
        return torch.zeros_like(x)

    loss = flow_matching_loss(
        field, torch.tensor([[3.0, 2.0]]), t=torch.tensor([0.5]), noise=torch.tensor([[1.0, 0.0]])
    )
    assert torch.equal(seen["x"], torch.tensor([[2.0, 1.0]])) and torch.equal(seen["t"], torch.tensor([0.5]))
    assert loss.item() == pytest.approx((2.0**2 + 2.0**2) / 2)  # mean over the two coordinates
    exact = flow_matching_loss(
        lambda x, t: torch.tensor([[2.0, 2.0]]),
        torch.tensor([[3.0, 2.0]]),
        t=torch.tensor([0.5]),
        noise=torch.tensor([[1.0, 0.0]]),
    )
    assert exact.item() == 0.0


def test_loss_minimiser_is_the_marginal_velocity() -> None:
    """Two data points ±1 in 1-D, one noise: at x_t the minimiser of the loss is E[x_1 - x_0 | x_t]."""
    # With x_0 ~ N(0, 1) and x_1 = ±1 equally, at time t the posterior over x_1 given x_t is a softmax
    # of -(x_t - t x_1)^2 / (2 (1 - t)^2); the marginal velocity is E[(x_1 - x_t) / (1 - t) | x_t].
    t, x = 0.5, torch.tensor([0.3])
    logits = torch.tensor([-((x - t * s) ** 2).item() / (2 * (1 - t) ** 2) for s in (1.0, -1.0)])
    post = logits.softmax(0)
    marginal = (post[0] * (1 - x) + post[1] * (-1 - x)) / (1 - t)
    # Monte Carlo: the conditional targets of pairs that land near x, averaged.
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(400_000, generator=gen)
    x1 = torch.where(torch.rand(400_000, generator=gen) < 0.5, 1.0, -1.0)
    xt = (1 - t) * x0 + t * x1
    near = (xt - x).abs() < 0.02
    assert ((x1 - x0)[near].mean() - marginal).abs() < 0.03


def test_loss_checks_arguments() -> None:
    model = VelocityMLP(data_shape=(2,), hidden=8, depth=1)
    with pytest.raises(ValueError, match="x1"):
        flow_matching_loss(model, torch.zeros(2))
    with pytest.raises(ValueError, match="noise"):
        flow_matching_loss(model, torch.zeros(2, 2), noise=torch.zeros(3, 2))
    with pytest.raises(ValueError, match="t must"):
        flow_matching_loss(model, torch.zeros(2, 2), t=torch.tensor([0.5, 1.5]))
    with pytest.raises(TypeError, match="t must"):
        flow_matching_loss(model, torch.zeros(2, 2), t=torch.tensor([0, 1]))


def test_velocity_mlp_is_the_denoiser_architecture() -> None:
    a, b = MLPDenoiser(data_shape=(1, 8, 8), hidden=32, depth=2), VelocityMLP(data_shape=(1, 8, 8), hidden=32, depth=2)
    assert [(k, v.shape) for k, v in a.state_dict().items()] == [(k, v.shape) for k, v in b.state_dict().items()]
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():  # time t in [0, 1] is the denoiser's step 1000 t
        assert torch.allclose(b(x, torch.full((4,), 0.25)), a(x, torch.full((4,), 250)), atol=1e-6)
    with pytest.raises(ValueError, match="labels"):
        b(x, 0.5, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="x must"):
        b(torch.zeros(4, 64), 0.5)


def test_conditional_velocity_mlp_reads_missing_labels_as_null() -> None:
    torch.manual_seed(0)
    m = VelocityMLP(data_shape=(2,), hidden=16, depth=1, n_classes=3)
    torch.nn.init.normal_(m.out.weight)
    x = torch.randn(5, 2)
    assert torch.equal(m(x, 0.3), m(x, 0.3, torch.full((5,), 3)))


# -- the trainer ---------------------------------------------------------------------------------


def _points(n: int = 256) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    centres = torch.tensor([[-1.0, -1.0], [1.0, 1.0]])
    return centres[torch.randint(2, (n,), generator=gen)] + 0.05 * torch.randn(n, 2, generator=gen)


def test_trainer_learns_and_samples() -> None:
    torch.manual_seed(0)
    trainer = FlowTrainer(
        VelocityMLP(data_shape=(2,), hidden=64, depth=2), _points(), config=TrainerConfig(batch_size=128, lr=3e-3)
    )
    history = trainer.fit(300, progress=False)
    assert len(history) == 300 and trainer.step == 300
    first, last = sum(history.values["loss"][:20]) / 20, sum(history.values["loss"][-50:]) / 50
    assert last < 0.6 * first
    x = trainer.sample(256, num_steps=8, method="heun", generator=torch.Generator().manual_seed(0))
    # samples land near the two centres
    d = torch.cdist(x, torch.tensor([[-1.0, -1.0], [1.0, 1.0]])).min(dim=1).values
    assert d.median() < 0.3
    with pytest.raises(ValueError, match="method"):
        trainer.sample(4, method="rk4")


def test_trainer_checkpoint_resumes_bit_for_bit(tmp_path) -> None:
    def make() -> FlowTrainer:
        torch.manual_seed(0)
        return FlowTrainer(
            VelocityMLP(data_shape=(2,), hidden=16, depth=1), _points(), config=TrainerConfig(batch_size=32, seed=3)
        )

    straight = make()
    straight.fit(20, progress=False)
    first = make()
    first.fit(10, progress=False)
    first.save(tmp_path / "ckpt")
    resumed = make()
    assert resumed.load(tmp_path / "ckpt") == 10
    resumed.fit(20, progress=False)
    assert resumed.history.values["loss"] == straight.history.values["loss"]
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(a, b)


def test_trainer_checks_arguments() -> None:
    model = VelocityMLP(data_shape=(2,), hidden=8, depth=1)
    with pytest.raises(TypeError, match="model"):
        FlowTrainer("model", _points())
    with pytest.raises(TypeError, match="config"):
        FlowTrainer(model, _points(), config={"lr": 1})
    with pytest.raises(ValueError, match="data"):
        FlowTrainer(model, torch.zeros(3))
    with pytest.raises(ValueError, match="labels"):
        FlowTrainer(model, _points(), labels=torch.zeros(256, dtype=torch.long))
    with pytest.raises(ValueError, match="n must"):
        FlowTrainer(model, _points()).sample(0)


# -- the ODE samplers ----------------------------------------------------------------------------


def _linear_field(a: torch.Tensor, b: torch.Tensor):
    """v(x, t) = a + b t, independent of x: the exact solution is x(1) = x(0) + a + b / 2."""

    def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return a + b * t[:, None]

    return field


def test_euler_is_exact_on_a_constant_field() -> None:
    x0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    a = torch.tensor([1.0, -2.0, 0.5])
    out = EulerSampler(3).sample(_linear_field(a, torch.zeros(3)), x0.shape, x0=x0)
    assert torch.allclose(out, x0 + a, atol=1e-6)


def test_heun_is_exact_on_a_field_linear_in_t() -> None:
    """Heun is the trapezoidal rule: exact for any velocity linear in t (Euler is not)."""
    x0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    a, b = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([3.0, 1.0, -4.0])
    field = _linear_field(a, b)
    exact = x0 + a + b / 2
    for n in (1, 2, 7):
        assert torch.allclose(HeunSampler(n).sample(field, x0.shape, x0=x0), exact, atol=1e-5)
    euler = EulerSampler(2).sample(field, x0.shape, x0=x0)
    assert (euler - exact).abs().max() > 0.1


def test_both_exact_on_a_straight_flow_between_two_points() -> None:
    """The field of one pair x_0 → x_1 is v(x, t) = (x_1 - x)/(1 - t), linear in x: every straight path
    moves at constant speed x_1 - x_0, and one Euler step from t = 0 lands on x_1."""
    x1 = torch.tensor([[2.0, -1.0]])
    x0 = torch.tensor([[0.5, 0.5]])
    field = lambda x, t: (x1 - x) / (1 - t[:, None]).clamp_min(1e-6)  # noqa: E731
    assert torch.allclose(EulerSampler(1).sample(field, x0.shape, x0=x0), x1, atol=1e-6)
    assert torch.allclose(EulerSampler(5).sample(field, x0.shape, x0=x0), x1, atol=1e-5)


def _rotation_error(sampler_cls, n: int) -> float:
    """dx/dt = A x with A a rotation generator: exact solution a rotation by 1 radian."""
    x0 = torch.tensor([[1.0, 0.0]], dtype=torch.float32)

    def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.stack([-x[:, 1], x[:, 0]], dim=1)

    out = sampler_cls(n).sample(field, x0.shape, x0=x0)
    exact = torch.tensor([[math.cos(1.0), math.sin(1.0)]])
    return float((out - exact).norm())


def test_heun_converges_at_second_order_euler_at_first() -> None:
    heun = [_rotation_error(HeunSampler, n) for n in (4, 8, 16)]
    euler = [_rotation_error(EulerSampler, n) for n in (4, 8, 16)]
    for coarse, fine in zip(heun, heun[1:]):
        assert 3.5 < coarse / fine < 4.5  # halving h divides the error by 2^2
    for coarse, fine in zip(euler, euler[1:]):
        assert 1.7 < coarse / fine < 2.3  # ... by 2^1
    assert heun[-1] < euler[-1] / 20


def test_trajectory_and_nfe() -> None:
    calls = []

    def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append(float(t[0]))
        return torch.ones_like(x)

    traj = HeunSampler(4).sample(field, (3, 2), torch.Generator().manual_seed(0), return_trajectory=True)
    assert len(calls) == 8 == HeunSampler(4).nfe == traj.nfe
    assert traj.x.shape == (5, 3, 2) and traj.velocity.shape == (4, 3, 2) and len(traj) == 4
    assert torch.allclose(traj.final - traj.x[0], torch.ones(3, 2))
    calls.clear()
    HeunSampler(4, euler_last=True).sample(field, (3, 2))
    assert len(calls) == 7 == HeunSampler(4, euler_last=True).nfe
    assert EulerSampler(6).nfe == 6 and torch.equal(ode_times(4), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


def test_samplers_check_arguments() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        EulerSampler()
    with pytest.raises(ValueError, match="num_steps"):
        EulerSampler(0)
    with pytest.raises(ValueError, match="increasing"):
        HeunSampler(times=torch.tensor([0.0, 0.5, 0.4]))
    with pytest.raises(TypeError, match="euler_last"):
        HeunSampler(2, euler_last=1)
    with pytest.raises(ValueError, match="x0"):
        EulerSampler(2).sample(lambda x, t: x, (2, 2), x0=torch.zeros(3, 2))
    with pytest.raises(TypeError, match="shape"):
        EulerSampler(2).sample(lambda x, t: x, 4)
    with pytest.raises(ValueError, match="t_next"):
        EulerSampler(2).step(lambda x, t: x, torch.zeros(1), 0.5, 0.5)


def test_sampling_is_deterministic_given_the_noise() -> None:
    model = VelocityMLP(data_shape=(2,), hidden=16, depth=1)
    torch.nn.init.normal_(model.out.weight)
    a = HeunSampler(5).sample(model, (8, 2), torch.Generator().manual_seed(4))
    b = HeunSampler(5).sample(model, (8, 2), torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


# -- agreement with diffusers (a test-only dependency) -------------------------------------------


def _field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A nonlinear field to step with both libraries."""
    return torch.tanh(x) * (1 + t.reshape(-1, *([1] * (x.dim() - 1)))) - 0.3 * x


def test_euler_step_matches_diffusers_flow_match_euler() -> None:
    """diffusers' σ = 1 - t (σ = 1 is noise) and its model predicts noise - data = -v: the same step."""
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    sched.set_timesteps(num_inference_steps=10)
    sigmas = sched.sigmas.clone()  # 10 sigmas from 1 down to 0.001, then 0
    ours = EulerSampler(times=(1 - sigmas).double().float())
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    x_theirs, x_ours = x.clone(), x.clone()
    for i, timestep in enumerate(sched.timesteps):
        sigma = float(sigmas[i])
        x_theirs = sched.step(-_field(x_theirs, torch.full((4,), 1 - sigma)), timestep, x_theirs).prev_sample
        step_field = lambda x_, t_: _field(x_, torch.full((x_.shape[0],), t_))  # noqa: E731  step() passes a float t
        x_ours = ours.step(step_field, x_ours, float(ours.times[i]), float(ours.times[i + 1])).prev_sample
        assert torch.allclose(x_ours, x_theirs, atol=1e-5, rtol=1e-5), i


def test_heun_step_matches_diffusers_flow_match_heun() -> None:
    diffusers = pytest.importorskip("diffusers")
    if not hasattr(diffusers, "FlowMatchHeunDiscreteScheduler"):
        pytest.skip("this diffusers has no FlowMatchHeunDiscreteScheduler")
    sched = diffusers.FlowMatchHeunDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    sched.set_timesteps(num_inference_steps=6)
    # its grid: 6 sigmas from 1 to 0.001, then 0; each sigma but the first is visited twice
    grid = torch.cat([sched.sigmas[:1], sched.sigmas[1::2]])
    ours = HeunSampler(times=1 - grid, euler_last=True)
    assert ours.nfe == len(sched.timesteps) == 11
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    x_theirs = x.clone()
    for timestep in sched.timesteps:
        sigma = float(timestep) / 1000
        x_theirs = sched.step(-_field(x_theirs, torch.full((4,), 1 - sigma)), timestep, x_theirs).prev_sample
    x_ours = ours.sample(_field, x.shape, x0=x)
    assert torch.allclose(x_ours, x_theirs, atol=1e-5, rtol=1e-5)


# -- the shipped model ---------------------------------------------------------------------------


def test_shipped_flow_model_has_the_ddpm_models_budget() -> None:
    from genai_lib.diffusion import pretrained
    from genai_lib.diffusion.flow_pretrained import flow_pretrained_info, load_flow_pretrained

    info, ddpm = flow_pretrained_info("digits8-flow"), pretrained.pretrained_info("digits8")
    same = {k: v for k, v in info["recipe"].items() if k != "same_budget_as"}
    assert same == ddpm["recipe"] and info["model"] == ddpm["model"] and info["seed"] == ddpm["seed"] == 0
    model = load_flow_pretrained()
    denoiser, _ = pretrained.load_pretrained("digits8")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in denoiser.parameters())
    x = EulerSampler(2).sample(model, (8, 1, 8, 8), torch.Generator().manual_seed(0))
    assert x.shape == (8, 1, 8, 8) and torch.isfinite(x).all()
    with pytest.raises(ValueError, match="name"):
        load_flow_pretrained("digits16-flow")


def test_quantised_storage_round_trips_within_half_a_step() -> None:
    from genai_lib.diffusion.flow_pretrained import dequantise_state, quantise_state

    state = {"w": torch.randn(40, 64), "b": torch.randn(40), "n": torch.tensor(3)}
    stored = quantise_state(state)
    assert stored["w.q"].dtype == torch.int8 and stored["b"].dtype == torch.float16 and stored["n"].dtype == torch.int64
    back = dequantise_state(stored)
    assert set(back) == set(state)
    step = state["w"].abs().amax(dim=1, keepdim=True) / 127
    assert ((back["w"] - state["w"]).abs() <= 0.51 * step + 1e-3 * step).all()
