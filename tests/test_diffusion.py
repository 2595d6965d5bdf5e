"""Tests of genai_lib.diffusion: schedules, samplers (against diffusers), denoisers, loss, EMA, trainer.

diffusers is a test-only dependency (``pip install diffusers``); the tests that compare with it are
skipped when it is missing. Every comparison feeds both implementations the same inputs and, for
stochastic steps, generators seeded alike: both draw their noise the same way (``torch.randn`` on
the generator's device, the shape of the model output), so the comparison is exact, not statistical.
"""

from __future__ import annotations

import math

import pytest
import torch

from genai_lib.data import load_digits, toy2d
from genai_lib.diffusion import (
    EMA,
    DDIMSampler,
    DDPMSampler,
    DiffusionTrainer,
    MLPDenoiser,
    NoiseSchedule,
    SinusoidalEmbedding,
    TrainerConfig,
    Trajectory,
    UNetDenoiser,
    ddim_timesteps,
    drop_labels,
    epsilon_loss,
    guided_eps,
    sinusoidal_embedding,
)

DIFFUSERS_NAME = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
KINDS = ("linear", "cosine")


def diffusers_ddpm(kind: str, num_steps: int = 1000, **kwargs):
    diffusers = pytest.importorskip("diffusers")
    return diffusers.DDPMScheduler(
        num_train_timesteps=num_steps,
        beta_schedule=DIFFUSERS_NAME[kind],
        variance_type="fixed_small",
        clip_sample=kwargs.pop("clip_sample", False),
        **kwargs,
    )


def diffusers_ddim(kind: str, num_steps: int, num_inference_steps: int, **kwargs):
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.DDIMScheduler(
        num_train_timesteps=num_steps,
        beta_schedule=DIFFUSERS_NAME[kind],
        clip_sample=kwargs.pop("clip_sample", False),
        set_alpha_to_one=True,
        **kwargs,
    )
    sched.set_timesteps(num_inference_steps)
    return sched


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run this module on one CPU thread, then restore the count.

    The models here are tiny; on a loaded 2-core machine, OpenMP's second thread makes their
    kernels (LayerNorm, backward) tens of times slower instead of faster.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class ToyEps(torch.nn.Module):
    """A fixed, smooth, t-dependent 'noise predictor' (no training needed) for whole-loop comparisons."""

    def __init__(self, num_steps: int):
        super().__init__()
        self.num_steps = num_steps
        self.w = torch.nn.Parameter(torch.tensor([[0.9, 0.2], [-0.1, 0.8]]))

    def forward(self, x, t, labels=None):
        s = (t.float() / self.num_steps).reshape(-1, *([1] * (x.dim() - 1)))
        out = torch.tanh(x @ self.w) * (0.5 + s)
        return out if labels is None else out + 0.1 * labels.float().reshape(-1, 1)


# -- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_steps", [1000, 100])
def test_schedule_matches_diffusers(kind, num_steps):
    ref = diffusers_ddpm(kind, num_steps)
    s = NoiseSchedule(kind, num_steps)
    for name in ("betas", "alphas", "alphas_cumprod"):
        mine, theirs = getattr(s, name), getattr(ref, name)
        assert mine.dtype == theirs.dtype == torch.float32
        assert (mine - theirs).abs().max() <= 1e-6, name
    x0 = torch.randn(16, 1, 8, 8, generator=gen(0))
    noise = torch.randn(16, 1, 8, 8, generator=gen(1))
    t = torch.randint(0, num_steps, (16,), generator=gen(2))
    assert (s.add_noise(x0, noise, t) - ref.add_noise(x0, noise, t)).abs().max() <= 1e-6


def test_schedule_formulas():
    lin, cos = NoiseSchedule("linear"), NoiseSchedule("cosine")
    assert lin.betas[0].item() == pytest.approx(1e-4) and lin.betas[-1].item() == pytest.approx(0.02)
    torch.testing.assert_close(
        lin.alphas_cumprod, torch.cumprod(1 - lin.betas.double(), 0).float(), rtol=1e-5, atol=1e-7
    )
    f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2  # Nichol & Dhariwal Eq. 17
    for t in (0, 10, 500, 900):
        assert cos.alphas_cumprod[t].item() == pytest.approx(f((t + 1) / 1000) / f(0), rel=1e-4)
    assert cos.betas.max().item() == pytest.approx(0.999)
    assert torch.equal(cos.alphas_cumprod_prev[1:], cos.alphas_cumprod[:-1]) and cos.alphas_cumprod_prev[0] == 1
    snr = cos.snr()
    assert snr.dtype == torch.float64 and (snr[1:] < snr[:-1]).all()  # information only ever decreases
    assert cos.snr(7).item() == pytest.approx((cos.alphas_cumprod[7] / (1 - cos.alphas_cumprod[7])).item(), rel=1e-6)
    assert NoiseSchedule("cosine", 1000) == cos and cos.to_dict()["kind"] == "cosine"


def test_add_noise_broadcasting_and_inverses():
    s = NoiseSchedule("cosine", 1000)
    x0, eps = torch.randn(5, 3, 4, generator=gen(0)), torch.randn(5, 3, 4, generator=gen(1))
    t = torch.tensor([0, 1, 250, 998, 999])
    x_t = s.add_noise(x0, eps, t)
    row = s.add_noise(x0[2:3], eps[2:3], 250)  # scalar t == per-sample t
    torch.testing.assert_close(row, x_t[2:3])
    torch.testing.assert_close(s.predict_eps(x_t, x0, t), eps, atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(s.predict_x0(x_t[:4], eps[:4], t[:4]), x0[:4], atol=1e-4, rtol=1e-4)


def test_forward_process_reaches_standard_normal():
    x0, _ = load_digits(8)  # pixels in [-1, 1], far from N(0, I)
    for kind in KINDS:
        s = NoiseSchedule(kind)
        x_T = s.add_noise(x0, torch.randn(x0.shape, generator=gen(3)), s.num_steps - 1).flatten()
        n = x_T.numel()  # 115,008 numbers: SE of the mean 0.003, of the variance 0.004
        assert abs(x_T.mean().item()) < 5 / math.sqrt(n)
        assert abs(x_T.var().item() - 1) < 5 * math.sqrt(2 / n) + (s.alphas_cumprod[-1].item() * 1.0)


# -- DDPM ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_ddpm_step_matches_diffusers(kind):
    ref = diffusers_ddpm(kind)
    sampler = DDPMSampler(NoiseSchedule(kind))
    for t in [999, 998, 900, 500, 100, 10, 1, 0]:
        x_t, eps = torch.randn(4, 1, 8, 8, generator=gen(t)), torch.randn(4, 1, 8, 8, generator=gen(t + 1))
        ours = sampler.step(eps, t, x_t, generator=gen(7))
        theirs = ref.step(eps, t, x_t, generator=gen(7))
        assert (ours.prev_sample - theirs.prev_sample).abs().max() <= 1e-6, t
        assert (ours.pred_x0 - theirs.pred_original_sample).abs().max() <= 1e-6, t


def test_ddpm_step_with_clipping_matches_diffusers():
    ref = diffusers_ddpm("linear", clip_sample=True, clip_sample_range=1.0)
    sampler = DDPMSampler(NoiseSchedule("linear"), clip_sample=1.0)
    for t in [999, 400, 3, 0]:
        x_t, eps = 3 * torch.randn(8, 2, generator=gen(t)), torch.randn(8, 2, generator=gen(t + 1))
        ours, theirs = sampler.step(eps, t, x_t, generator=gen(1)), ref.step(eps, t, x_t, generator=gen(1))
        assert ours.pred_x0.abs().max() <= 1.0
        assert (ours.prev_sample - theirs.prev_sample).abs().max() <= 1e-6


def test_ddpm_last_step_is_noise_free_and_returns_x0_hat():
    sampler = DDPMSampler(NoiseSchedule("cosine"))
    x_t, eps = torch.randn(4, 2, generator=gen(0)), torch.randn(4, 2, generator=gen(1))
    a, b = sampler.step(eps, 0, x_t, generator=gen(2)), sampler.step(eps, 0, x_t, generator=gen(3))
    torch.testing.assert_close(a.prev_sample, b.prev_sample)
    torch.testing.assert_close(a.prev_sample, a.pred_x0)


# -- DDIM ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_steps,n", [(1000, 1000), (1000, 250), (1000, 50), (1000, 30), (1000, 7), (100, 30), (50, 1)]
)
def test_ddim_timesteps_match_diffusers(num_steps, n):
    ours = DDIMSampler(NoiseSchedule("cosine", num_steps), n).timesteps
    assert torch.equal(ours, diffusers_ddim("cosine", num_steps, n).timesteps)
    assert torch.equal(ours, ddim_timesteps(num_steps, n)) and ours.dtype == torch.long


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_matches_diffusers(kind, eta):
    ref = diffusers_ddim(kind, 1000, 50)
    sampler = DDIMSampler(NoiseSchedule(kind), 50, eta=eta)
    for t in sampler.timesteps.tolist():
        x_t, eps = torch.randn(3, 1, 8, 8, generator=gen(t)), torch.randn(3, 1, 8, 8, generator=gen(t + 1))
        ours = sampler.step(eps, t, x_t, generator=gen(11))
        theirs = ref.step(eps, t, x_t, eta=eta, generator=gen(11))
        assert (ours.prev_sample - theirs.prev_sample).abs().max() <= 1e-6, t
        assert (ours.pred_x0 - theirs.pred_original_sample).abs().max() <= 1e-6, t


def test_ddim_step_with_clipping_matches_diffusers():
    ref = diffusers_ddim("cosine", 1000, 20, clip_sample=True, clip_sample_range=1.0)
    sampler = DDIMSampler(NoiseSchedule("cosine"), 20, eta=0.3, clip_sample=1.0)
    for t in sampler.timesteps.tolist():
        x_t, eps = 2 * torch.randn(6, 2, generator=gen(t)), torch.randn(6, 2, generator=gen(t + 1))
        ours = sampler.step(eps, t, x_t, generator=gen(5))
        theirs = ref.step(eps, t, x_t, eta=0.3, generator=gen(5))
        assert (ours.prev_sample - theirs.prev_sample).abs().max() <= 1e-6


def test_ddim_with_eta_one_and_all_steps_is_ddpm():
    """Song et al. 2021: η = 1 over all T steps is the DDPM sampler (exact in real numbers).

    In float32 the two formulas round differently; √(1 - ᾱ_{t-1} - σ_t²) cancels catastrophically
    at the smallest t, where the measured gap peaks at about 3e-4. The bound says "same sampler".
    """
    for kind in KINDS:
        s = NoiseSchedule(kind)
        ddpm, ddim = DDPMSampler(s), DDIMSampler(s, 1000, eta=1.0)
        for t in [999, 700, 300, 50, 10, 2, 1, 0]:
            x_t, eps = torch.randn(256, 2, generator=gen(t)), torch.randn(256, 2, generator=gen(t + 1))
            a = ddpm.step(eps, t, x_t, generator=gen(9)).prev_sample
            b = ddim.step(eps, t, x_t, generator=gen(9)).prev_sample
            assert (a - b).abs().max() <= 1e-3, (kind, t)


# -- the sampling loop -------------------------------------------------------------------------------


def test_ddpm_sample_loop_matches_a_diffusers_loop():
    ref = diffusers_ddpm("cosine", 50)
    model = ToyEps(50)
    g = gen(123)
    x = torch.randn((16, 2), generator=g)  # the DDPMPipeline order: x_T first, then one draw per step
    with torch.no_grad():
        for t in ref.timesteps:
            x = ref.step(model(x, torch.full((16,), int(t))), t, x, generator=g).prev_sample
    ours = DDPMSampler(NoiseSchedule("cosine", 50)).sample(model, (16, 2), generator=gen(123))
    assert (ours - x).abs().max() <= 1e-6


def test_ddim_sample_loop_matches_a_diffusers_loop():
    ref = diffusers_ddim("linear", 100, 10)
    model = ToyEps(100)
    g = gen(5)
    x = torch.randn((8, 2), generator=g)
    with torch.no_grad():
        for t in ref.timesteps:
            x = ref.step(model(x, torch.full((8,), int(t))), t, x, eta=0.5, generator=g).prev_sample
    ours = DDIMSampler(NoiseSchedule("linear", 100), 10, eta=0.5).sample(model, (8, 2), generator=gen(5))
    assert (ours - x).abs().max() <= 1e-6


@pytest.mark.parametrize("make", [lambda s: DDPMSampler(s), lambda s: DDIMSampler(s, 7, eta=0.4)])
def test_trajectory_records_every_state_of_the_same_run(make):
    s = NoiseSchedule("cosine", 60)
    sampler, model = make(s), ToyEps(60)
    final = sampler.sample(model, (5, 2), generator=gen(1))
    traj = sampler.sample(model, (5, 2), generator=gen(1), return_trajectory=True)
    steps = len(sampler.timesteps)
    assert isinstance(traj, Trajectory) and len(traj) == steps
    assert traj.x.shape == (steps + 1, 5, 2) and traj.pred_x0.shape == traj.eps.shape == (steps, 5, 2)
    assert torch.equal(traj.timesteps, sampler.timesteps)
    assert torch.equal(traj.final, final)  # the explorer's path is the sampling path
    torch.testing.assert_close(traj.x[0], torch.randn((5, 2), generator=gen(1)))  # x_T
    for i in (0, steps // 2, steps - 1):
        t = int(traj.timesteps[i])
        t_batch = torch.full((5,), t)
        torch.testing.assert_close(traj.eps[i], model(traj.x[i], t_batch).detach())
        torch.testing.assert_close(traj.pred_x0[i], s.predict_x0(traj.x[i], traj.eps[i], t))
    states = list(sampler.iter_steps(model, (5, 2), generator=gen(1)))
    assert [st.t for st in states] == sampler.timesteps.tolist() and torch.equal(states[-1].prev_sample, final)


def test_iter_steps_leaves_grad_mode_and_train_mode_alone():
    model = MLPDenoiser(data_shape=(2,), hidden=16, depth=1, time_dim=8, emb_dim=8).train()
    it = DDIMSampler(NoiseSchedule("linear", 20), 4).iter_steps(model, (3, 2), generator=gen(0))
    first = next(it)
    assert torch.is_grad_enabled()  # no_grad applies inside the loop only
    assert not first.prev_sample.requires_grad and not model.training
    list(it)
    assert model.training


def test_ddim_eta0_is_a_deterministic_map_from_noise():
    s = NoiseSchedule("cosine", 100)
    sampler, model = DDIMSampler(s, 10, eta=0.0), ToyEps(100)
    x_T = torch.randn(4, 2, generator=gen(0))
    a = sampler.sample(model, (4, 2), generator=gen(1), x_T=x_T)
    b = sampler.sample(model, (4, 2), generator=gen(2), x_T=x_T)
    assert torch.equal(a, b) and torch.equal(x_T, torch.randn(4, 2, generator=gen(0)))  # x_T not modified


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_x_T_on_the_cpu_runs_where_the_model_is():
    # A notebook draws x_T with a CPU generator (the same start on any machine); a GPU model runs it.
    model = MLPDenoiser(data_shape=(2,), hidden=16, depth=1, time_dim=8, emb_dim=8).cuda()
    x_T = torch.randn(4, 2, generator=gen(0))
    out = DDIMSampler(NoiseSchedule("linear", 20), 4).sample(model, (4, 2), x_T=x_T)
    assert out.device.type == "cuda" and x_T.device.type == "cpu"


def test_x_T_of_a_plain_callable_stays_on_its_device():
    seen = []

    def model(x, t):
        seen.append(x.device)
        return torch.zeros_like(x)

    x_T = torch.randn(4, 2, generator=gen(0))
    out = DDIMSampler(NoiseSchedule("linear", 20), 4).sample(model, (4, 2), x_T=x_T)
    assert out.device == x_T.device and set(seen) == {x_T.device}


def test_classifier_free_guidance_formula():
    calls = []

    def model(x, t, labels=None):
        calls.append(labels)
        return torch.full_like(x, 1.0) if labels is None else torch.full_like(x, 3.0)

    x, t, c = torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), torch.tensor([1, 2])
    w = 2.0  # ε̃ = (1 + w) ε(x, c) - w ε(x, ∅) = 3 * 3 - 2 * 1 = 7
    assert torch.equal(guided_eps(model, x, t, c, w), torch.full((2, 2), 7.0)) and len(calls) == 2
    calls.clear()
    assert torch.equal(guided_eps(model, x, t, c, 0.0), torch.full((2, 2), 3.0)) and len(calls) == 1
    traj = DDIMSampler(NoiseSchedule("linear", 10), 2).sample(model, (2, 2), gen(0), True, labels=c, guidance_scale=w)
    assert torch.equal(traj.eps, torch.full((2, 2, 2), 7.0))  # the trajectory records the guided ε̃


def test_drop_labels():
    labels = torch.arange(10).repeat(100)
    assert torch.equal(drop_labels(labels, 0.0, 10), labels)
    assert (drop_labels(labels, 1.0, 10) == 10).all()
    dropped = drop_labels(labels, 0.1, 10, generator=gen(0))
    share = (dropped == 10).double().mean().item()  # SE 0.0095
    assert abs(share - 0.1) < 0.04 and torch.equal(dropped[dropped != 10], labels[dropped != 10])
    assert torch.equal(dropped, drop_labels(labels, 0.1, 10, generator=gen(0)))


# -- bad arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,exc,name",
    [
        (lambda: NoiseSchedule("quadratic"), ValueError, "kind"),
        (lambda: NoiseSchedule(3), TypeError, "kind"),
        (lambda: NoiseSchedule("cosine", 0), ValueError, "num_steps"),
        (lambda: NoiseSchedule("linear", 10, beta_start=0.1, beta_end=0.01), ValueError, "beta_end"),
        (lambda: NoiseSchedule("linear", 10).add_noise(torch.zeros(2, 2), torch.zeros(2, 2), 10), ValueError, "t"),
        (lambda: NoiseSchedule("linear", 10).add_noise(torch.zeros(2, 2), torch.zeros(2, 2), -1), ValueError, "t"),
        (lambda: NoiseSchedule("linear", 10).add_noise(torch.zeros(2, 2), torch.zeros(2, 2), 1.5), TypeError, "t"),
        (
            lambda: NoiseSchedule("linear", 10).add_noise(
                torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(3, dtype=torch.long)
            ),
            ValueError,
            "t",
        ),
        (lambda: NoiseSchedule("linear", 10).add_noise(torch.zeros(2, 2), torch.zeros(2, 3), 1), ValueError, "noise"),
        (lambda: NoiseSchedule("linear", 10).snr(10), ValueError, "t"),
        (
            lambda: DDPMSampler(NoiseSchedule("linear", 10)).step(torch.zeros(2, 2), 10, torch.zeros(2, 2)),
            ValueError,
            "t",
        ),
        (
            lambda: DDPMSampler(NoiseSchedule("linear", 10)).step(torch.zeros(2, 3), 1, torch.zeros(2, 2)),
            ValueError,
            "eps",
        ),
        (
            lambda: DDPMSampler(NoiseSchedule("linear", 10)).step(torch.zeros(2, 2), 1, torch.zeros(2, 2), generator=0),
            TypeError,
            "generator",
        ),
        (lambda: DDPMSampler("linear"), TypeError, "schedule"),
        (lambda: DDIMSampler(NoiseSchedule("linear", 10), 11), ValueError, "num_inference_steps"),
        (lambda: DDIMSampler(NoiseSchedule("linear", 10), 0), ValueError, "num_inference_steps"),
        (lambda: DDIMSampler(NoiseSchedule("linear", 10), 5, eta=-0.1), ValueError, "eta"),
        (lambda: DDIMSampler(NoiseSchedule("linear", 10), 5).step(torch.zeros(2), 99, torch.zeros(2)), ValueError, "t"),
        (lambda: DDIMSampler(NoiseSchedule("linear", 10), 5).sample(ToyEps(10), (0, 2)), ValueError, "shape"),
        (lambda: DDIMSampler(NoiseSchedule("linear", 10), 5).sample(ToyEps(10), 4), TypeError, "shape"),
        (
            lambda: DDIMSampler(NoiseSchedule("linear", 10), 5).sample(ToyEps(10), (4, 2), guidance_scale=1.0),
            ValueError,
            "labels",
        ),
        (
            lambda: DDIMSampler(NoiseSchedule("linear", 10), 5).sample(
                ToyEps(10), (4, 2), labels=torch.zeros(3, dtype=torch.long)
            ),
            ValueError,
            "labels",
        ),
        (
            lambda: DDIMSampler(NoiseSchedule("linear", 10), 5).sample(
                ToyEps(10), (4, 2), labels=torch.zeros(4, dtype=torch.long), guidance_scale=-1
            ),
            ValueError,
            "guidance_scale",
        ),
        (
            lambda: DDIMSampler(NoiseSchedule("linear", 10), 5).sample(ToyEps(10), (4, 2), x_T=torch.zeros(4, 3)),
            ValueError,
            "x_T",
        ),
        (lambda: sinusoidal_embedding(torch.arange(3), 7), ValueError, "dim"),
        (lambda: MLPDenoiser(data_shape=(2,))(torch.zeros(3, 3), torch.zeros(3, dtype=torch.long)), ValueError, "x"),
        (
            lambda: MLPDenoiser(data_shape=(2,))(
                torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long)
            ),
            ValueError,
            "labels",
        ),
        (
            lambda: MLPDenoiser(data_shape=(2,), n_classes=3)(
                torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.tensor([0, 1, 4])
            ),
            ValueError,
            "labels",
        ),
        (lambda: MLPDenoiser(data_shape=(2,))(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long)), ValueError, "t"),
        (lambda: UNetDenoiser(image_size=10, channel_mults=(1, 2, 2)), ValueError, "image_size"),
        (lambda: TrainerConfig(ema_decay=1.0), ValueError, "ema_decay"),
        (lambda: EMA(torch.nn.Linear(2, 2), decay=1.5), ValueError, "decay"),
    ],
)
def test_bad_arguments_name_the_argument(call, exc, name):
    with pytest.raises(exc, match=rf"\b{name}\b"):
        call()


# -- embeddings and denoisers -------------------------------------------------------------------------


def test_sinusoidal_embedding():
    t = torch.tensor([0, 1, 10, 999])
    emb = sinusoidal_embedding(t, 16)
    assert emb.shape == (4, 16) and emb.dtype == torch.float32
    assert torch.equal(emb[0], torch.cat([torch.zeros(8), torch.ones(8)]))  # sin 0, cos 0
    assert emb[1, 0].item() == pytest.approx(math.sin(1.0)) and emb[2, 8].item() == pytest.approx(math.cos(10.0))
    assert emb[1, 7].item() == pytest.approx(math.sin(10_000 ** (-7 / 8)), rel=1e-5)  # the slowest frequency
    assert torch.cdist(emb, emb).fill_diagonal_(1).min() > 0.1  # distinct steps, distinct embeddings
    assert torch.equal(SinusoidalEmbedding(16)(t), emb)


def test_mlp_denoiser_shapes_conditioning_and_zero_init():
    t = torch.tensor([0, 5, 999])
    for shape in [(2,), (1, 8, 8)]:
        model = MLPDenoiser(data_shape=shape, hidden=32, depth=2, time_dim=16, emb_dim=16)
        x = torch.randn(3, *shape)
        out = model(x, t)
        assert out.shape == x.shape and torch.equal(out, torch.zeros_like(x))  # zero-initialised output layer
    model = MLPDenoiser(data_shape=(2,), hidden=32, depth=2, time_dim=16, emb_dim=16, n_classes=4)
    torch.nn.init.normal_(model.out.weight, generator=gen(0))
    x = torch.randn(3, 2, generator=gen(1))
    null = torch.full((3,), model.null_label)
    assert model.null_label == 4
    torch.testing.assert_close(model(x, t), model(x, t, null))  # no label = the null label ∅
    assert not torch.allclose(model(x, t, torch.tensor([0, 1, 2])), model(x, t))
    assert not torch.allclose(model(x, t), model(x, t + 1))  # it is told the step


def test_unet_denoiser_shapes_and_gradients():
    for size, mults in [(8, (1, 2)), (16, (1, 2, 2))]:
        model = UNetDenoiser(image_size=size, base_channels=8, channel_mults=mults, time_dim=16, n_classes=10)
        torch.nn.init.normal_(model.conv_out.weight, std=0.1, generator=gen(0))
        x = torch.randn(2, 1, size, size, generator=gen(1))
        t, c = torch.tensor([3, 900]), torch.tensor([7, 10])
        out = model(x, t, c)
        assert out.shape == x.shape
        torch.testing.assert_close(model(x, t, torch.tensor([10, 10])), model(x, t))
        out.square().mean().backward()
        assert all(p.grad is not None for p in model.parameters())
    assert sum(p.numel() for p in UNetDenoiser().parameters()) < 2_000_000  # "small": CPU-trainable at 16×16


# -- loss, EMA, trainer ------------------------------------------------------------------------------


def test_epsilon_loss_is_the_simple_loss():
    s = NoiseSchedule("cosine", 100)
    model = MLPDenoiser(data_shape=(2,), hidden=16, depth=1, time_dim=8, emb_dim=8)
    torch.nn.init.normal_(model.out.weight, generator=gen(0))
    x0, noise, t = (
        torch.randn(32, 2, generator=gen(1)),
        torch.randn(32, 2, generator=gen(2)),
        torch.randint(0, 100, (32,), generator=gen(3)),
    )
    expected = (model(s.add_noise(x0, noise, t), t) - noise).square().mean()  # Ho et al. Eq. 14
    torch.testing.assert_close(epsilon_loss(model, s, x0, t=t, noise=noise), expected)
    g1, g2 = gen(4), gen(4)
    t1 = torch.randint(0, 100, (32,), generator=g1)
    n1 = torch.randn(32, 2, generator=g1)  # the documented draw order: t, then ε
    torch.testing.assert_close(epsilon_loss(model, s, x0, generator=g2), epsilon_loss(model, s, x0, t=t1, noise=n1))


def test_ema_update_rule():
    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(net.weight, 0.0)
    ema = EMA(net, decay=0.9, warmup=True)
    with torch.no_grad():
        net.weight.fill_(1.0)
    assert ema.current_decay() == pytest.approx(0.1)  # warm-up: min(0.9, (1+0)/(10+0))
    ema.update(net)
    assert ema.model.weight.item() == pytest.approx(0.9)  # 0.1 * 0 + 0.9 * 1
    ema.num_updates = 1000
    ema.update(net)
    assert ema.current_decay() == pytest.approx(0.9) and ema.model.weight.item() == pytest.approx(
        0.91
    )  # 0.9 * 0.9 + 0.1 * 1
    assert not ema.model.weight.requires_grad


def _trainer(conditional: bool = False, seed: int = 0) -> DiffusionTrainer:
    data = toy2d("ring8", 512, seed=0)
    labels = (torch.arange(512) % 4) if conditional else None
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = MLPDenoiser(
            data_shape=(2,), hidden=32, depth=2, time_dim=16, emb_dim=16, n_classes=4 if conditional else None
        )
    return DiffusionTrainer(
        model, NoiseSchedule("cosine", 100), data, labels, TrainerConfig(batch_size=64, lr=3e-3, seed=seed)
    )


def test_trainer_learns_repeats_and_resumes(tmp_path):
    a = _trainer()
    history = a.fit(steps=150, progress=False)
    losses = history.values["loss"]
    assert len(history) == 150 and a.step == 150
    assert sum(losses[-30:]) / 30 < 0.6 * sum(losses[:10]) / 10  # it learns (first steps: loss ≈ 1)
    b = _trainer()
    b.fit(steps=60, progress=False)
    b.save(tmp_path / "ckpt")
    b.fit(steps=150, progress=False)  # continuing == one uninterrupted run
    assert b.history.values["loss"] == losses
    c = _trainer()
    assert c.load(tmp_path / "ckpt") == 60
    c.fit(steps=150, progress=False)  # resuming from disk == the uninterrupted run
    assert c.history.values["loss"] == losses
    for p, q in zip(a.ema_model.parameters(), c.ema_model.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="steps"):
        a.fit(steps=100)


def test_trainer_conditional_and_sampling_smoke():
    trainer = _trainer(conditional=True)
    trainer.fit(steps=20, progress=False)
    labels = torch.tensor([0, 1, 2, 3])
    out = DDIMSampler(trainer.schedule, 5).sample(trainer.ema_model, (4, 2), gen(0), labels=labels, guidance_scale=2.0)
    assert out.shape == (4, 2) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="labels"):
        DiffusionTrainer(
            MLPDenoiser(data_shape=(2,)),
            NoiseSchedule("cosine", 10),
            torch.zeros(4, 2),
            torch.zeros(4, dtype=torch.long),
        )


def test_slerp_endpoints_norm_and_errors():
    from genai_lib.diffusion import slerp

    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 1, 8, 8, generator=g)
    assert torch.allclose(slerp(z0, z1, 0.0), z0, atol=1e-5) and torch.allclose(slerp(z0, z1, 1.0), z1, atol=1e-5)
    mid = slerp(z0, z1, 0.5)
    # Nearly orthogonal high-dimensional noises: slerp keeps the norm, the straight line shrinks it by ~√2.
    assert abs(mid.norm() / z0.norm() - 1) < 0.1 and ((z0 + z1) / 2).norm() / z0.norm() < 0.8
    theta = torch.arccos((z0 * z1).sum() / (z0.norm() * z1.norm()))
    ref = (torch.sin(0.7 * theta) * z0 + torch.sin(0.3 * theta) * z1) / torch.sin(theta)
    assert torch.allclose(slerp(z0, z1, 0.3), ref, atol=1e-5)
    assert torch.allclose(slerp(z0, z0, 0.4), z0)  # parallel: no division by sin 0
    with pytest.raises(ValueError, match="z1"):
        slerp(z0, torch.randn(3), 0.5)
    with pytest.raises(TypeError, match="alpha"):
        slerp(z0, z1, "half")
