"""genai_lib.autoencoders: shapes, the ELBO's terms, the reparameterisation, training and checkpoints."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from genai_lib.autoencoders import (
    VAE,
    Autoencoder,
    AutoencoderConfig,
    AutoencoderTrainer,
    AutoencoderTrainerConfig,
    elbo,
    gaussian_kl,
    gaussian_nll,
    load_model,
    save_model,
    vae_loss,
)
from genai_lib.data import load_digits

pytestmark = pytest.mark.usefixtures("one_thread")


def _digits(n: int = 64, seed: int = 0) -> torch.Tensor:
    """``n`` real 8×8 digits in [-1, 1] (a shuffled subset chosen by ``seed``)."""
    images, _ = load_digits(8)
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]


# -- models ------------------------------------------------------------------------------------------


def test_shapes_of_both_models() -> None:
    x = _digits(5)
    auto, vae = Autoencoder(latent_dim=3, hidden=16), VAE(latent_dim=3, hidden=16)
    assert auto.encode(x).shape == (5, 3) and auto(x).shape == x.shape
    mean, logvar = vae.encode(x)
    assert mean.shape == logvar.shape == (5, 3)
    out = vae(x, torch.Generator().manual_seed(0))
    assert out.recon.shape == x.shape and out.z.shape == (5, 3)
    assert vae.sample(7, torch.Generator().manual_seed(1)).shape == (7, 1, 8, 8)
    assert vae.decode(torch.randn(4, 3) * 100).abs().max() <= 1.0  # tanh: the data's range


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="latent_dim"):
        AutoencoderConfig(latent_dim=0)
    with pytest.raises(ValueError, match="decoder_std"):
        AutoencoderConfig(decoder_std=0.0)
    with pytest.raises(TypeError, match="data_shape"):
        AutoencoderConfig(data_shape=64)
    with pytest.raises(TypeError, match="config"):
        VAE({"latent_dim": 2})
    with pytest.raises(TypeError, match="either config"):
        VAE(AutoencoderConfig(), latent_dim=2)


def test_input_validation() -> None:
    vae = VAE(latent_dim=2, hidden=8)
    with pytest.raises(ValueError, match="x must have shape"):
        vae.encode(torch.zeros(3, 64))
    with pytest.raises(ValueError, match="z must have shape"):
        vae.decode(torch.zeros(3, 5))
    with pytest.raises(TypeError, match="x"):
        vae.encode(torch.zeros(3, 1, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="logvar"):
        VAE.reparameterise(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="n"):
        vae.sample(0)


# -- the reparameterisation trick ------------------------------------------------------------------


def test_reparameterise_has_the_right_distribution() -> None:
    mean, logvar = (
        torch.tensor([[1.0, -2.0]]).expand(20_000, 2),
        torch.tensor([[0.0, math.log(0.25)]]).expand(20_000, 2),
    )
    z = VAE.reparameterise(mean, logvar, torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.03)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 0.5]), atol=0.02)


def test_reparameterise_gradients_are_those_of_mu_plus_sigma_eps() -> None:
    mean = torch.randn(4, 3, requires_grad=True)
    logvar = torch.randn(4, 3, requires_grad=True)
    gen = torch.Generator().manual_seed(2)
    state = gen.get_state()
    z = VAE.reparameterise(mean, logvar, gen)
    gen.set_state(state)
    eps = torch.randn(4, 3, generator=gen)
    g_mean, g_logvar = torch.autograd.grad(z.sum(), (mean, logvar))
    assert torch.allclose(g_mean, torch.ones(4, 3))
    assert torch.allclose(g_logvar, 0.5 * torch.exp(0.5 * logvar.detach()) * eps, atol=1e-6)


# -- the ELBO's terms -----------------------------------------------------------------------------------


def test_kl_matches_torch_distributions() -> None:
    gen = torch.Generator().manual_seed(3)
    mean, logvar = torch.randn(10, 5, generator=gen), torch.randn(10, 5, generator=gen)
    q = torch.distributions.Independent(torch.distributions.Normal(mean, (0.5 * logvar).exp()), 1)
    p = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(5), torch.ones(5)), 1)
    assert torch.allclose(gaussian_kl(mean, logvar), torch.distributions.kl_divergence(q, p), rtol=1e-5)
    assert torch.allclose(gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))
    with pytest.raises(ValueError, match="mean and logvar"):
        gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 4))


def test_nll_matches_torch_distributions() -> None:
    x, recon = torch.randn(6, 1, 4, 4), torch.randn(6, 1, 4, 4)
    ref = -torch.distributions.Normal(recon, 0.3).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(gaussian_nll(x, recon, 0.3), ref, rtol=1e-5)
    with pytest.raises(ValueError, match="std"):
        gaussian_nll(x, recon, 0.0)
    with pytest.raises(ValueError, match="recon"):
        gaussian_nll(x, recon[:3], 0.3)


class _LinearGaussian:
    """p(z) = N(0, I), p(x | z) = N(W z + b, σ² I) with orthogonal columns of W: log p(x) and the (diagonal)
    posterior are known in closed form, so the ELBO can be checked against the log-likelihood."""

    def __init__(self, n: int = 6, d: int = 2, sigma: float = 0.5) -> None:
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
        self.W = q[:, :d] * torch.tensor([2.0, 0.7], dtype=torch.float64)
        self.b = torch.linspace(-1, 1, n, dtype=torch.float64)
        self.config = SimpleNamespace(decoder_std=sigma)
        self.shift = 0.0
        self.reparameterise = VAE.reparameterise

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W.T + self.b

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s2 = self.config.decoder_std**2
        precision = 1 + (self.W**2).sum(0) / s2  # diagonal, as W's columns are orthogonal
        mean = (x - self.b) @ self.W / s2 / precision
        return mean + self.shift, (-precision.log()).expand_as(mean)

    def log_px(self, x: torch.Tensor) -> torch.Tensor:
        cov = self.W @ self.W.T + self.config.decoder_std**2 * torch.eye(len(self.b), dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, cov).log_prob(x)


def test_elbo_is_the_log_likelihood_at_the_true_posterior_and_below_it_elsewhere() -> None:
    model = _LinearGaussian()
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = model.log_px(x)
    # With q = the exact posterior the bound is tight (Eq. eq-vae-gap): the Monte-Carlo ELBO matches log p(x).
    assert torch.allclose(elbo(model, x, 4000, torch.Generator().manual_seed(2)), exact, atol=0.1)
    # Any other q gives a lower bound, here lower by KL(q ‖ posterior) = ½ Σ_j 0.5² · precision_j ≈ 2.5 nats.
    model.shift = 0.5
    gap = exact - elbo(model, x, 4000, torch.Generator().manual_seed(3))
    assert torch.allclose(gap, torch.full_like(gap, 0.125 * float((1 + (model.W**2).sum(0) / 0.25).sum())), atol=0.15)


def test_vae_loss_terms_and_beta() -> None:
    vae, x = VAE(latent_dim=3, hidden=16), _digits(32)
    t1 = vae_loss(vae, x, 1.0, torch.Generator().manual_seed(0))
    t4 = vae_loss(vae, x, 4.0, torch.Generator().manual_seed(0))
    assert torch.allclose(t1.loss, t1.nll + t1.kl) and torch.allclose(t4.loss, t4.nll + 4 * t4.kl)
    assert t1.kl > 0 and torch.allclose(t1.nll, t4.nll)
    with pytest.raises(ValueError, match="beta"):
        vae_loss(vae, x, 0.0)


# -- training and checkpoints -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Autoencoder, VAE])
def test_training_reduces_the_loss(kind) -> None:
    torch.manual_seed(0)
    model = kind(latent_dim=4, hidden=32)
    data = _digits(128)
    trainer = AutoencoderTrainer(model, data, AutoencoderTrainerConfig(batch_size=64, lr=3e-3, warmup=5))
    history = trainer.fit(150, progress=False)
    losses = history.values["loss"]
    assert trainer.step == 150 and len(losses) == 150
    assert sum(losses[-20:]) / 20 < 0.7 * sum(losses[:20]) / 20
    if kind is VAE:
        assert set(history.values) == {"loss", "nll", "kl", "mse"}


def test_larger_beta_gives_a_smaller_kl() -> None:
    kls = {}
    for beta in (0.5, 8.0):
        torch.manual_seed(0)
        vae = VAE(latent_dim=4, hidden=32)
        trainer = AutoencoderTrainer(vae, _digits(128), AutoencoderTrainerConfig(batch_size=64, beta=beta, warmup=5))
        kls[beta] = sum(trainer.fit(150, progress=False).values["kl"][-20:])
    assert kls[8.0] < 0.5 * kls[0.5], kls


def test_trainer_validation() -> None:
    vae = VAE(latent_dim=2, hidden=8)
    with pytest.raises(TypeError, match="model"):
        AutoencoderTrainer(torch.nn.Linear(2, 2), _digits(4))
    with pytest.raises(ValueError, match="data"):
        AutoencoderTrainer(vae, torch.zeros(4, 64))
    with pytest.raises(TypeError, match="config"):
        AutoencoderTrainer(vae, _digits(4), config={"beta": 1.0})
    with pytest.raises(ValueError, match="beta"):
        AutoencoderTrainerConfig(beta=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        AutoencoderTrainerConfig(batch_size=0)
    with pytest.raises(ValueError, match="decay_steps"):
        AutoencoderTrainerConfig(decay_steps=0)


def test_learning_rate_schedule() -> None:
    trainer = AutoencoderTrainer(
        VAE(latent_dim=2, hidden=8), _digits(8), AutoencoderTrainerConfig(lr=1e-2, warmup=4, decay_steps=20)
    )
    rates = [trainer.learning_rate(s) for s in range(25)]
    assert rates[0] == pytest.approx(2.5e-3) and rates[3] == pytest.approx(1e-2)
    assert all(a >= b for a, b in zip(rates[3:], rates[4:])) and rates[19] == rates[24] == 0.0
    flat = AutoencoderTrainer(VAE(latent_dim=2, hidden=8), _digits(8), AutoencoderTrainerConfig(lr=1e-2, warmup=0))
    assert flat.learning_rate(0) == flat.learning_rate(1000) == 1e-2


def test_save_and_load_model_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    vae = VAE(latent_dim=3, hidden=16, decoder_std=0.4).eval()
    save_model(vae, tmp_path / "vae")
    assert (tmp_path / "vae" / "model.safetensors").is_file() and (tmp_path / "vae" / "config.json").is_file()
    loaded = load_model(tmp_path / "vae")
    assert isinstance(loaded, VAE) and loaded.config == vae.config
    z = torch.randn(5, 3)
    assert torch.equal(loaded.decode(z), vae.decode(z))
    with pytest.raises(FileNotFoundError, match="directory"):
        load_model(tmp_path / "nothing")


def test_trainer_checkpoint_resumes_bit_for_bit(tmp_path) -> None:
    def make():
        torch.manual_seed(0)
        config = AutoencoderTrainerConfig(batch_size=16, warmup=3, decay_steps=20)
        return AutoencoderTrainer(VAE(latent_dim=2, hidden=16), _digits(64), config)

    straight = make()
    straight.fit(20, progress=False)
    first = make()
    first.fit(10, progress=False)
    first.save(tmp_path / "ckpt")
    resumed = make()
    resumed.load(tmp_path / "ckpt")
    resumed.fit(20, progress=False)
    assert resumed.history.values["loss"] == straight.history.values["loss"]
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(a, b)
    assert isinstance(load_model(tmp_path / "ckpt"), VAE)


# -- layering: a family of its own -------------------------------------------------------------------


def test_the_family_imports_no_other_family_and_the_root_does_not_import_it() -> None:
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import genai_lib.autoencoders as family

    for path in Path(family.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("genai_lib."):
                    assert name.split(".")[1] not in {"gan", "diffusion", "llm", "exercises"}, (path.name, name)
    code = "import sys, genai_lib; print(any(m.startswith('genai_lib.autoencoders') for m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
