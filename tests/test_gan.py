"""Tests of genai_lib.gan: model shapes, losses against hand-computed values, the gradient penalties,
the optimal discriminator, and the trainer's history and snapshots (the explorers' data)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from genai_lib.data import load_digits, toy2d
from genai_lib.gan import (
    LOSS_NAMES,
    R1,
    WGANGP,
    ConvDiscriminator,
    ConvGenerator,
    GANConfig,
    GANTrainer,
    Minimax,
    MLPDiscriminator,
    MLPGenerator,
    NonSaturating,
    gradient_penalty,
    interpolate,
    make_loss,
    minimax,
    nonsaturating,
    r1,
    wgan_gp,
)
from genai_lib.training import History, cosine_schedule

LN2, LN3 = math.log(2.0), math.log(3.0)


def seeded(fn, seed: int = 0):
    torch.manual_seed(seed)
    return fn()


class Linear2D(nn.Module):
    """A linear critic f(x) = w·x + b, whose input gradient is w everywhere."""

    def __init__(self, w=(1.2, -1.6), b=0.3):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, x, labels=None):
        return x @ self.w + self.b


def small_trainer(loss="nonsaturating", seed=0, model_seed=0, **cfg):
    torch.manual_seed(model_seed)
    G, D = MLPGenerator(z_dim=4, hidden=16, depth=2), MLPDiscriminator(hidden=16, depth=2)
    config = GANConfig(loss=loss, batch_size=32, seed=seed, snapshot_samples=20, grid_size=8, **cfg)
    return GANTrainer(G, D, toy2d("ring8", 500, seed=1), config=config)


# -- models -----------------------------------------------------------------------------------


def test_mlp_shapes_and_generate():
    G, D = seeded(lambda: (MLPGenerator(), MLPDiscriminator()))
    z = G.sample_latent(5, generator=torch.Generator().manual_seed(0))
    assert z.shape == (5, 16)
    assert torch.equal(z, G.sample_latent(5, generator=torch.Generator().manual_seed(0)))
    x = G(z)
    assert x.shape == (5, 2) and D(x).shape == (5,)
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == 4  # 3 hidden layers + output
    assert G.generate(7, generator=torch.Generator().manual_seed(1)).shape == (7, 2)


def test_conv_shapes_conditional_and_modes():
    G = seeded(lambda: ConvGenerator(z_dim=8, channels=8, n_classes=10))
    D = ConvDiscriminator(channels=8, n_classes=10)
    labels = torch.arange(6) % 10
    x = G(G.sample_latent(6), labels)
    assert x.shape == (6, 1, 16, 16) and x.abs().max() <= 1.0
    assert D(x, labels).shape == (6,)
    G.train()
    assert G.generate(6, labels).shape == (6, 1, 16, 16) and G.training  # mode restored
    G.eval()
    G.generate(6, labels)
    assert not G.training
    # the class matters: same z, different labels -> different images
    z = G.sample_latent(1).repeat(2, 1)
    with torch.no_grad():
        a, b = G(z, torch.tensor([0, 1]))
    assert not torch.allclose(a, b)
    # unconditional versions
    Gu, Du = ConvGenerator(z_dim=8, channels=8), ConvDiscriminator(channels=8)
    assert Du(Gu(Gu.sample_latent(3))).shape == (3,)


def test_model_label_errors():
    G, D = ConvGenerator(channels=4, n_classes=3), ConvDiscriminator(channels=4, n_classes=3)
    with pytest.raises(ValueError, match="labels"):
        G(G.sample_latent(2))
    with pytest.raises(ValueError, match="labels"):
        G(G.sample_latent(2), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="labels"):
        D(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match="labels"):
        MLPGenerator()(torch.zeros(2, 16), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="z"):
        MLPGenerator(z_dim=4)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="x"):
        ConvDiscriminator()(torch.zeros(2, 1, 8, 8))


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: MLPGenerator(z_dim=0), "z_dim"),
        (lambda: MLPGenerator(hidden=2.5), "hidden"),
        (lambda: MLPDiscriminator(depth=0), "depth"),
        (lambda: ConvGenerator(n_classes=1), "n_classes"),
        (lambda: ConvDiscriminator(channels=True), "channels"),
    ],
)
def test_model_bad_args(make, name):
    with pytest.raises((TypeError, ValueError), match=name):
        make()


# -- losses -----------------------------------------------------------------------------------


def test_logistic_losses_hand_computed():
    real, fake = torch.tensor([0.0, LN3]), torch.tensor([0.0, -LN3])
    # -log σ(0) = ln 2, -log σ(ln 3) = ln(4/3); -log(1 - σ(0)) = ln 2, -log(1 - σ(-ln 3)) = ln(4/3)
    expected_d = 0.5 * (LN2 + math.log(4 / 3)) * 2
    for loss in (nonsaturating(), minimax(), r1()):
        assert loss.d_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    # non-saturating: -log σ(0) = ln 2, -log σ(-ln 3) = ln 4
    assert nonsaturating().g_loss(fake).item() == pytest.approx(0.5 * (LN2 + 2 * LN2), rel=1e-6)
    # minimax: log(1 - σ(0)) = -ln 2, log(1 - σ(-ln 3)) = log(3/4)
    assert minimax().g_loss(fake).item() == pytest.approx(0.5 * (-LN2 + math.log(3 / 4)), rel=1e-6)
    assert nonsaturating().g_loss(fake, reduction="sum").item() == pytest.approx(3 * LN2, rel=1e-6)
    assert torch.allclose(nonsaturating().g_loss(fake, reduction="none"), torch.tensor([LN2, 2 * LN2]))
    assert torch.allclose(nonsaturating().prob(torch.tensor([0.0, LN3])), torch.tensor([0.5, 0.75]))


def test_minimax_saturates_nonsaturating_does_not():
    """d/dl of log(1 - σ(l)) is -σ(l) -> 0 as D rejects the fakes; of -log σ(l) it is σ(l) - 1 -> -1."""
    logits = torch.tensor([-8.0, 0.0, 8.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(minimax().g_loss(logits, reduction="sum"), logits)
    (g_ns,) = torch.autograd.grad(nonsaturating().g_loss(logits, reduction="sum"), logits)
    s = torch.sigmoid(logits.detach())
    assert torch.allclose(g_mm, -s, atol=1e-6) and torch.allclose(g_ns, s - 1, atol=1e-6)
    assert abs(g_mm[0]) < 1e-3 and g_ns[0] < -0.999


def test_wgan_losses_hand_computed():
    loss = wgan_gp(0.1)
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    assert loss.d_loss(real, fake).item() == pytest.approx(-1.0 - 2.0)
    assert loss.g_loss(fake).item() == pytest.approx(1.0)
    assert torch.equal(loss.prob(fake), fake)  # a critic value is not a probability
    assert loss.gp_weight == 0.1 and loss == WGANGP(0.1)


def test_gradient_penalties_on_a_linear_critic():
    """∇f = w everywhere, so WGAN-GP = λ (‖w‖ - 1)² and R1 = γ/2 ‖w‖² exactly (‖w‖ = 2 here)."""
    critic = Linear2D()
    real, fake = torch.randn(64, 2), torch.randn(64, 2) + 3
    assert wgan_gp(0.5).penalty(critic, real, fake).item() == pytest.approx(0.5 * (2 - 1) ** 2, rel=1e-5)
    assert r1(3.0).penalty(critic, real, fake).item() == pytest.approx(1.5 * 4.0, rel=1e-5)
    assert nonsaturating().penalty(critic, real, fake).item() == 0.0
    # the penalty is differentiable in the critic's weights: ∂/∂w λ(‖w‖-1)² = 2λ(‖w‖-1) w/‖w‖
    wgan_gp(0.5).penalty(critic, real, fake).backward()
    w = critic.w.detach()
    assert torch.allclose(critic.w.grad, 2 * 0.5 * (w.norm() - 1) * w / w.norm(), atol=1e-5)


def test_gradient_penalty_matches_autograd_by_hand():
    """One batched backward equals a loop of per-sample gradients, values and weight gradients."""
    torch.manual_seed(3)
    D = MLPDiscriminator(hidden=16, depth=2)
    x = torch.randn(12, 2)
    for target in (1.0, 0.0):
        terms = []
        for xi in x:
            xi = xi.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(D(xi[None]).squeeze(), xi, create_graph=True)
            terms.append((g.norm() - target) ** 2)
        by_hand = torch.stack(terms).mean()
        # the output bias does not move ∇_x D, so its gradient is zero (materialised, not None)
        hand_grads = torch.autograd.grad(by_hand, list(D.parameters()), allow_unused=True, materialize_grads=True)
        ours = gradient_penalty(D, x, target=target)
        our_grads = torch.autograd.grad(ours, list(D.parameters()), allow_unused=True, materialize_grads=True)
        assert ours.item() == pytest.approx(by_hand.item(), rel=1e-5)
        for a, b in zip(our_grads, hand_grads):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_gradient_penalty_on_a_given_output():
    """With ``out`` (D already run on an x that requires grad) the penalty and its weight gradients are unchanged."""
    torch.manual_seed(5)
    D = MLPDiscriminator(hidden=16, depth=2)
    x = torch.randn(12, 2)
    for target in (1.0, 0.0):
        fresh = gradient_penalty(D, x, target=target)
        xg = x.clone().requires_grad_(True)
        given = gradient_penalty(D, xg, target=target, out=D(xg))
        assert given.item() == pytest.approx(fresh.item(), rel=1e-6)
        for a, b in zip(
            torch.autograd.grad(fresh, list(D.parameters()), allow_unused=True, materialize_grads=True),
            torch.autograd.grad(given, list(D.parameters()), allow_unused=True, materialize_grads=True),
        ):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="requires grad"):
        gradient_penalty(D, x, target=0.0, out=D(x))


def test_r1_trainer_step_is_the_loss_plus_penalty():
    """The trainer scores the real batch once for R1's loss and penalty: the same gradient as two passes."""
    torch.manual_seed(0)
    G, D = MLPGenerator(z_dim=4, hidden=16, depth=2), MLPDiscriminator(hidden=16, depth=2)
    trainer = GANTrainer(
        G,
        D,
        toy2d("ring8", 500, seed=1),
        config=GANConfig(loss="r1", penalty_weight=2.0, batch_size=16, snapshot_samples=10),
    )
    copy = MLPDiscriminator(hidden=16, depth=2)
    copy.load_state_dict(D.state_dict())
    rng = trainer.rng.get_state()
    trainer._d_update()
    replay = torch.Generator()
    replay.set_state(rng)
    real = trainer.data[torch.randint(len(trainer.data), (16,), generator=replay)]
    with torch.no_grad():
        fake = G(G.sample_latent(16, generator=replay))
    loss = trainer.loss.d_loss(copy(real), copy(fake)) + trainer.loss.penalty(copy, real, fake)
    expected = torch.autograd.grad(loss, list(copy.parameters()))
    for p, g in zip(D.parameters(), expected):  # the update leaves its gradients in .grad
        assert torch.allclose(p.grad, g, rtol=1e-4, atol=1e-6)
    assert trainer.opt_d.defaults["fused"]  # and steps with the fused Adam kernel on the CPU


def test_wgan_penalty_uses_interpolates():
    torch.manual_seed(4)
    D = MLPDiscriminator(hidden=16, depth=2)
    real, fake = torch.randn(10, 2), torch.randn(10, 2)
    pts = interpolate(real, fake, generator=torch.Generator().manual_seed(7))
    eps = torch.rand(10, 1, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(pts, eps * real + (1 - eps) * fake)
    expected = 0.1 * gradient_penalty(D, pts, target=1.0)
    got = wgan_gp(0.1).penalty(D, real, fake, generator=torch.Generator().manual_seed(7))
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    images = torch.randn(3, 1, 4, 4)
    pts = interpolate(images, -images, generator=torch.Generator().manual_seed(0))
    assert pts.shape == images.shape


def test_optimal_discriminator_gaussians():
    """p_data = N(0, 1), p_g = N(1, 1): D* = p_data / (p_data + p_g) has logit log p_data - log p_g = 1/2 - x.

    Minimising the discriminator loss over logistic-linear D (a family that contains D*) on samples
    must recover slope -1 and intercept 1/2, up to sampling error (about 0.02 with 20,000 samples).
    """
    gen = torch.Generator().manual_seed(0)
    x_data, x_g = torch.randn(20_000, 1, generator=gen), torch.randn(20_000, 1, generator=gen) + 1.0
    D = nn.Linear(1, 1)
    opt = torch.optim.LBFGS(D.parameters(), lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = nonsaturating().d_loss(D(x_data).squeeze(1), D(x_g).squeeze(1))
        value.backward()
        return value

    opt.step(closure)
    assert D.weight.item() == pytest.approx(-1.0, abs=0.06)
    assert D.bias.item() == pytest.approx(0.5, abs=0.06)


def test_optimal_discriminator_discrete_and_jsd():
    """On a 3-point support with free logits, D* = p_data/(p_data+p_g) and -d_loss(D*) = -log 4 + 2 JSD.

    Samples are repeated in proportion to the probabilities, so the batch means are exact expectations.
    """
    p_data, p_g = np.array([0.6, 0.3, 0.1]), np.array([0.2, 0.3, 0.5])
    idx_data = torch.tensor([0] * 6 + [1] * 3 + [2] * 1)
    idx_g = torch.tensor([0] * 2 + [1] * 3 + [2] * 5)
    logits = torch.zeros(3, requires_grad=True)
    opt = torch.optim.LBFGS([logits], lr=1.0, max_iter=200, line_search_fn="strong_wolfe", tolerance_grad=1e-10)

    def closure():
        opt.zero_grad()
        value = nonsaturating().d_loss(logits[idx_data], logits[idx_g])
        value.backward()
        return value

    opt.step(closure)
    d_star = p_data / (p_data + p_g)
    assert np.allclose(torch.sigmoid(logits).detach().numpy(), d_star, atol=1e-4)
    m = 0.5 * (p_data + p_g)
    jsd = 0.5 * (p_data * np.log(p_data / m)).sum() + 0.5 * (p_g * np.log(p_g / m)).sum()
    value = -nonsaturating().d_loss(logits[idx_data], logits[idx_g]).item()
    assert value == pytest.approx(-math.log(4) + 2 * jsd, abs=1e-6)


def test_make_loss_and_bad_loss_args():
    assert LOSS_NAMES == ("minimax", "nonsaturating", "wgan_gp", "r1")
    assert isinstance(make_loss("minimax"), Minimax) and isinstance(make_loss("nonsaturating"), NonSaturating)
    assert make_loss("wgan_gp", 0.1) == WGANGP(0.1) and make_loss("r1") == R1(1.0)
    with pytest.raises(ValueError, match="loss"):
        make_loss("hinge")
    with pytest.raises(ValueError, match="penalty_weight"):
        make_loss("nonsaturating", 1.0)
    with pytest.raises(ValueError, match="gp_weight"):
        wgan_gp(-1.0)
    with pytest.raises(ValueError, match="gamma"):
        r1(float("nan"))
    with pytest.raises(TypeError, match="gp_weight"):
        wgan_gp("10")
    with pytest.raises(ValueError, match="reduction"):
        nonsaturating().g_loss(torch.zeros(3), reduction="avg")
    with pytest.raises(ValueError, match="real_out"):
        nonsaturating().d_loss(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(TypeError, match="fake_out"):
        wgan_gp().g_loss([0.0, 1.0])
    with pytest.raises(ValueError, match="real and fake"):
        interpolate(torch.zeros(3, 2), torch.zeros(4, 2))


# -- trainer ----------------------------------------------------------------------------------


def test_gan_trainer_decays_along_the_shared_cosine():
    """The GAN's schedule is training.cosine_schedule without warm-up, its floor a ratio of the rate."""
    trainer = small_trainer("nonsaturating", final_lr_ratio=0.1)
    history = trainer.fit(steps=9, progress=False)
    expected = [1e-3 * cosine_schedule(t, 9, 1.0, min_lr=0.1) for t in range(9)]
    assert history.values["lr_g"] == pytest.approx(expected, rel=1e-12)
    assert history.values["lr_g"][0] == pytest.approx(1e-3) and history.values["lr_g"][-1] == pytest.approx(1e-4)


def test_trainer_history_and_snapshots_structure():
    trainer = small_trainer("wgan_gp", penalty_weight=0.1)
    history = trainer.fit(steps=7, d_steps=2, snapshot_every=3, progress=False)
    assert isinstance(history, History)  # every trainer's fit returns its History
    snapshots = trainer.snapshots
    assert history is trainer.history and snapshots is trainer.snapshots
    assert history.steps == list(range(7))
    assert set(history.values) == {"d_loss", "penalty", "g_loss", "d_real", "d_fake", "lr_g"}
    assert history.values["lr_g"][0] == pytest.approx(1e-3) and history.values["lr_g"][-1] == pytest.approx(0.0)
    assert [s.step for s in snapshots] == [0, 3, 6, 7]
    for s in snapshots:
        assert s.samples.shape == (20, 2) and s.d_grid.shape == (8, 8) and s.arrows.shape == (20, 4)
        assert s.extent == trainer.extent and s.samples.device.type == "cpu"
        assert torch.equal(s.arrows[:, :2], s.samples)
    assert not torch.equal(snapshots[0].samples, snapshots[-1].samples)
    # a second call continues to the new total budget
    trainer.fit(steps=9, snapshot_every=3, progress=False)
    assert trainer.step == 9 and trainer.history.steps == list(range(9))
    assert [s.step for s in trainer.snapshots] == [0, 3, 6, 7, 9]
    assert trainer.fit(steps=9, snapshot_every=3, progress=False) is trainer.history  # equal: nothing to do
    assert trainer.step == 9 and len(trainer.snapshots) == 5
    with pytest.raises(ValueError, match="steps"):
        trainer.fit(steps=8, progress=False)
    # frames for the scrubber: one scale for every frame, the longest arrow has the asked length
    real = toy2d("ring8", 30, seed=2)
    frames = trainer.frames(real, arrow_length=0.5)
    assert len(frames) == 5 and list(frames[0]) == ["D(x)", "real", "generated", "gradient"]
    longest = max(f["gradient"][:, 2:].norm(dim=1).max().item() for f in frames)
    assert longest == pytest.approx(0.5, rel=1e-5)


def test_trainer_is_deterministic_and_snapshots_do_not_perturb_it():
    def run(seed=0, snapshot_every=None):
        trainer = small_trainer("wgan_gp", seed=seed, penalty_weight=0.1)
        trainer.fit(steps=5, d_steps=2, snapshot_every=snapshot_every, progress=False)
        return trainer

    a, b, c = run(), run(), run(snapshot_every=1)
    assert a.history.values == b.history.values == c.history.values
    for p, q in zip(a.generator.parameters(), c.generator.parameters()):
        assert torch.equal(p, q)
    d = run(seed=1)
    assert d.history.values["g_loss"] != a.history.values["g_loss"]


def test_trainer_save_load_resumes_exactly(tmp_path):
    # WGAN-GP draws from the trainer's RNG three times a step (batch, latents, interpolation weights).
    def make(**cfg):
        return small_trainer(
            "wgan_gp", penalty_weight=0.1, ema_decay=0.9, lr_decay="constant", **cfg
        )  # cosine: laid over each fit call

    straight = make()
    straight.fit(steps=12, progress=False)
    first = make()
    first.fit(steps=6, progress=False)
    first.save(tmp_path / "ckpt")
    first.fit(steps=9, progress=False)  # the saved trainer moves on; the checkpoint does not
    resumed = make()
    assert resumed.load(tmp_path / "ckpt") == 6 and resumed.ema.num_updates == 6
    resumed.fit(steps=12, progress=False)
    assert resumed.history.values == straight.history.values
    for name, module in straight.modules().items():
        if isinstance(module, nn.Module):
            for p, q in zip(module.parameters(), resumed.modules()[name].parameters()):
                assert torch.equal(p, q), name
    with pytest.raises(ValueError, match="config"):
        small_trainer("wgan_gp", penalty_weight=0.2, ema_decay=0.9, lr_decay="constant").load(tmp_path / "ckpt")


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan_gp"])
def test_heatmap_and_arrows_are_direct_evaluations(loss):
    trainer = small_trainer(loss)
    trainer.fit(steps=3, snapshot_every=3, progress=False)
    snap = trainer.snapshots[-1]
    # rebuild the grid independently: row i is y_i, column j is x_j (plotly's heatmap layout)
    x0, x1, y0, y1 = snap.extent
    xs, ys = np.linspace(x0, x1, 8), np.linspace(y0, y1, 8)
    with torch.no_grad():
        for i in (0, 3, 7):
            for j in (0, 5, 7):
                raw = trainer.discriminator(torch.tensor([[xs[j], ys[i]]], dtype=torch.float32))
                direct = torch.sigmoid(raw) if loss == "nonsaturating" else raw
                assert snap.d_grid[i, j].item() == pytest.approx(direct.item(), rel=1e-5, abs=1e-6)
        assert torch.equal(snap.samples, trainer.generator(trainer.fixed_z))
    # the arrow on sample k is -d/dx of the generator's loss of that one sample
    for k in (0, 11):
        xk = snap.samples[k : k + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(trainer.loss.g_loss(trainer.discriminator(xk)), xk)
        assert torch.allclose(snap.arrows[k, 2:], -g[0], rtol=1e-4, atol=1e-7)


def test_conditional_conv_trainer_on_digits():
    images, labels = load_digits(16)
    torch.manual_seed(0)
    G, D = ConvGenerator(z_dim=8, channels=4, n_classes=10), ConvDiscriminator(channels=4, n_classes=10)
    config = GANConfig(loss="r1", penalty_weight=1.0, batch_size=16, snapshot_samples=20)
    trainer = GANTrainer(G, D, images[:200], labels[:200], config=config)
    assert trainer.grid is None
    history = trainer.fit(steps=2, snapshot_every=1, progress=False)
    snapshots = trainer.snapshots
    assert len(history) == 2 and [s.step for s in snapshots] == [0, 1, 2]
    assert snapshots[-1].samples.shape == (20, 1, 16, 16) and snapshots[-1].d_grid is None
    assert torch.equal(trainer.fixed_labels, torch.arange(20) % 10)
    assert history.values["penalty"][0] > 0
    with pytest.raises(ValueError, match="2-D"):
        trainer.frames()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"loss": "hinge"}, "loss"),
        ({"loss": "nonsaturating", "penalty_weight": 1.0}, "penalty_weight"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr_g": 0.0}, "lr_g"),
        ({"lr_d": float("inf")}, "lr_d"),
        ({"betas": (0.5,)}, "betas"),
        ({"betas": (0.5, 1.0)}, r"betas\[1\]"),
        ({"lr_decay": "linear"}, "lr_decay"),
        ({"final_lr_ratio": 2.0}, "final_lr_ratio"),
        ({"seed": -1}, "seed"),
        ({"snapshot_samples": 0}, "snapshot_samples"),
        ({"grid_size": 1}, "grid_size"),
        ({"grid_extent": (1.0, 0.0, 0.0, 1.0)}, "grid_extent"),
    ],
)
def test_config_bad_args(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        GANConfig(**kwargs)


def test_trainer_bad_args():
    G, D = MLPGenerator(), MLPDiscriminator()
    data = toy2d("ring8", 100)
    with pytest.raises(ValueError, match="data"):
        GANTrainer(G, D, torch.zeros(10, 3))
    with pytest.raises(TypeError, match="data"):
        GANTrainer(G, D, data.long())
    with pytest.raises(ValueError, match="labels"):
        GANTrainer(G, D, data, torch.zeros(100, dtype=torch.int64))
    with pytest.raises(TypeError, match="config"):
        GANTrainer(G, D, data, config={"loss": "r1"})
    with pytest.raises(TypeError, match="generator"):
        GANTrainer(nn.Linear(16, 2), D, data)
    with pytest.raises(ValueError, match="n_classes"):
        GANTrainer(ConvGenerator(n_classes=10), ConvDiscriminator(), *load_digits(16))
    with pytest.raises(ValueError, match="labels"):
        GANTrainer(ConvGenerator(n_classes=10), ConvDiscriminator(n_classes=10), load_digits(16)[0])
    trainer = GANTrainer(G, D, data)
    with pytest.raises(ValueError, match="d_steps"):
        trainer.fit(steps=2, d_steps=0)
    with pytest.raises(ValueError, match="snapshot_every"):
        trainer.fit(steps=2, snapshot_every=0)
    with pytest.raises(TypeError, match="steps"):
        trainer.fit(steps=2.0)
    with pytest.raises(ValueError, match="snapshots"):
        trainer.frames()


# -- members: several GANs trained at once --------------------------------------------------------


def test_members_run_each_block_through_its_own_network():
    torch.manual_seed(0)
    G, D = MLPGenerator(z_dim=4, hidden=8, depth=2, members=3), MLPDiscriminator(hidden=8, depth=2, members=3)
    z, x = torch.randn(6, 4), torch.randn(6, 2)
    out_g, out_d = G(z), D(x)
    assert out_g.shape == (6, 2) and out_d.shape == (6,)
    state = torch.get_rng_state()
    for k in range(3):
        g_k, d_k = G.member(k), D.member(k)
        assert g_k.members == d_k.members == 1 and isinstance(g_k.net[0], nn.Linear)
        assert torch.allclose(g_k(z[2 * k : 2 * k + 2]), out_g[2 * k : 2 * k + 2], atol=1e-6)
        assert torch.allclose(d_k(x[2 * k : 2 * k + 2]), out_d[2 * k : 2 * k + 2], atol=1e-6)
    assert torch.equal(torch.get_rng_state(), state)  # member() draws no random numbers
    assert not torch.allclose(G.member(0)(z[:2]), G.member(1)(z[:2]))  # independent initialisations
    with pytest.raises(ValueError, match="blocks"):
        G(torch.randn(5, 4))
    with pytest.raises(ValueError, match="k"):
        D.member(3)
    with pytest.raises(ValueError, match="members"):
        MLPDiscriminator().member(0)
    with pytest.raises(ValueError, match="members"):
        MLPGenerator(members=0)


def test_one_member_is_the_plain_mlp():
    a = seeded(lambda: MLPGenerator(z_dim=4, hidden=8, depth=2))
    b = seeded(lambda: MLPGenerator(z_dim=4, hidden=8, depth=2, members=1))
    assert list(a.state_dict()) == [
        "net.0.weight",
        "net.0.bias",
        "net.2.weight",
        "net.2.bias",
        "net.4.weight",
        "net.4.bias",
    ]
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def members_trainer(members=2, loss="r1", **cfg):
    torch.manual_seed(0)
    G = MLPGenerator(z_dim=4, hidden=16, depth=2, members=members)
    D = MLPDiscriminator(hidden=16, depth=2, members=members)
    cfg = {"batch_size": 16 * members, "snapshot_samples": 10 * members, "grid_size": 8} | cfg
    config = GANConfig(loss=loss, **({"penalty_weight": 1.0} if loss == "r1" else {}), **cfg)
    return GANTrainer(G, D, toy2d("ring8", 500, seed=1), config=config)


@pytest.mark.parametrize("loss", ["nonsaturating", "r1"])
def test_members_each_get_the_gradient_of_their_own_run(loss):
    # One discriminator update: member k's gradient is that of its own block's mean loss (and penalty),
    # computed here with a plain copy of member k on the same batch.
    trainer = members_trainer(loss=loss)
    D, rng = trainer.discriminator, trainer.rng.get_state()
    copies = [D.member(k) for k in range(2)]
    trainer._d_update()
    replay = torch.Generator()
    replay.set_state(rng)
    idx = torch.randint(len(trainer.data), (32,), generator=replay)
    z = trainer.generator.sample_latent(32, generator=replay)
    with torch.no_grad():
        G_before = trainer.generator  # the generator has not moved in a discriminator update
        fake = G_before(z)
    real = trainer.data[idx]
    for k, Dk in enumerate(copies):
        block = slice(16 * k, 16 * k + 16)
        lossk = trainer.loss.d_loss(Dk(real[block]), Dk(fake[block])) + trainer.loss.penalty(
            Dk, real[block], fake[block]
        )
        grads = torch.autograd.grad(lossk, list(Dk.parameters()))
        assert torch.allclose(D.net[0].weight.grad[k], grads[0].T, rtol=1e-4, atol=1e-6)
        assert torch.allclose(D.net[-1].bias.grad[k, 0], grads[-1], rtol=1e-4, atol=1e-6)


def test_members_snapshots_frames_and_checks():
    trainer = members_trainer(members=3, loss="nonsaturating")
    trainer.fit(steps=4, snapshot_every=2, progress=False)
    snap = trainer.snapshots[-1]
    assert snap.samples.shape == (30, 2) and snap.d_grid.shape == (3, 8, 8) and snap.arrows.shape == (30, 4)
    for k in range(3):
        mine = trainer.member_snapshots(k)
        assert [s.step for s in mine] == [0, 2, 4]
        assert torch.equal(mine[-1].samples, snap.samples[10 * k : 10 * k + 10])
        with torch.no_grad():  # every member's map is that member's discriminator on the whole grid
            direct = torch.sigmoid(trainer.discriminator.member(k)(trainer.grid)).reshape(8, 8)
            assert torch.allclose(mine[-1].d_grid, direct, atol=1e-6)
            assert torch.allclose(
                mine[-1].samples, trainer.generator.member(k)(trainer.fixed_z[10 * k : 10 * k + 10]), atol=1e-6
            )
        frames = trainer.frames(member=k, arrow_length=0.5)
        assert len(frames) == 3 and frames[-1]["D(x)"].shape == (8, 8)
        assert max(f["gradient"][:, 2:].norm(dim=1).max().item() for f in frames) == pytest.approx(0.5, rel=1e-5)
    with pytest.raises(ValueError, match="member"):
        trainer.frames()
    with pytest.raises(ValueError, match="k"):
        trainer.member_snapshots(3)
    with pytest.raises(ValueError, match="member"):
        small_trainer().frames(member=0)
    with pytest.raises(ValueError, match="batch_size"):
        members_trainer(members=3, batch_size=32)
    with pytest.raises(ValueError, match="members"):
        GANTrainer(MLPGenerator(members=2), MLPDiscriminator(), toy2d("ring8", 100))
