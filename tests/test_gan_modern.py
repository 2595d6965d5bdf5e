"""Tests of the modern GAN's ingredients: genai_lib.gan.modern, .augment and .style."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genai_lib.gan import augment, modern, style


# --- hinge loss ---------------------------------------------------------------------------------
def test_hinge_matches_the_direct_formula():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(50, generator=g) * 2, torch.randn(50, generator=g) * 2
    loss = modern.Hinge()
    d = sum(max(0.0, 1 - r) for r in real.tolist()) / 50 + sum(max(0.0, 1 + f) for f in fake.tolist()) / 50
    assert loss.d_loss(real, fake).item() == pytest.approx(d, rel=1e-6)
    assert loss.g_loss(fake).item() == pytest.approx(-fake.mean().item(), rel=1e-6)
    assert torch.allclose(loss.g_loss(fake, reduction="none"), -fake)


def test_hinge_has_no_gradient_beyond_the_margin():
    real = torch.tensor([1.5, 0.5], requires_grad=True)
    fake = torch.tensor([-2.0, 0.0], requires_grad=True)
    modern.Hinge().d_loss(real, fake).backward()
    assert real.grad.tolist() == [0.0, -0.5] and fake.grad.tolist() == [0.0, 0.5]
    with pytest.raises(ValueError, match="fake_out"):
        modern.Hinge().d_loss(real, torch.zeros(2, 1))


# --- spectral normalisation ---------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: nn.Linear(20, 7), lambda: nn.Conv2d(3, 5, 3)])
def test_spectral_norm_agrees_with_torch(make):
    torch.manual_seed(0)
    ours, ref = make(), make()
    ref.load_state_dict(ours.state_dict())
    sigma = modern.largest_singular_value(ours.weight)
    modern.spectral_normalise(ours)
    nn.utils.parametrizations.spectral_norm(ref)
    for _ in range(100):  # training-mode calls run one power iteration each
        w_ours, w_ref = ours.weight, ref.weight
    raw = ours.parametrizations.weight.original
    assert torch.allclose(w_ours, w_ref, atol=1e-4)
    assert modern.largest_singular_value(w_ours) == pytest.approx(1.0, abs=1e-3)
    assert (raw.detach() / w_ours.detach()).mean().item() == pytest.approx(sigma, rel=1e-3)


def test_spectral_norm_bounds_the_discriminator_layers():
    torch.manual_seed(1)
    d = modern.Digits8Discriminator(channels=8, spectral_norm=True)
    for _ in range(20):
        d(torch.randn(4, 1, 8, 8))
    for layer in d.net:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            assert modern.largest_singular_value(layer.weight) == pytest.approx(1.0, abs=0.02)
    with pytest.raises(TypeError, match="module"):
        modern.spectral_normalise(nn.ReLU())


# --- augmentation -------------------------------------------------------------------------------
def test_augment_is_differentiable_and_changes_images():
    x = torch.rand(16, 1, 8, 8, requires_grad=True)
    y = augment.diff_augment(x, ("translation", "cutout", "brightness"), generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.allclose(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_augment_treats_real_and_fake_alike():
    """The same random draw transforms an image identically whether it is called real or fake."""
    real = torch.rand(8, 1, 8, 8) * 2 - 1
    fake = real.clone().requires_grad_(True)
    a = augment.diff_augment(real, generator=torch.Generator().manual_seed(3))
    b = augment.diff_augment(fake, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b.detach())


def test_translation_moves_pixels_and_fills_background():
    x = torch.full((200, 1, 8, 8), -1.0)
    x[:, :, 4, 4] = 1.0
    y = augment.diff_augment(x, ("translation",), max_shift=1, generator=torch.Generator().manual_seed(0))
    assert torch.all((y == 1).flatten(1).sum(1) == 1)  # the lit pixel moved, nothing else lit
    positions = {tuple(torch.nonzero(img[0] == 1)[0].tolist()) for img in y}
    assert positions <= {(r, c) for r in (3, 4, 5) for c in (3, 4, 5)} and len(positions) >= 7
    assert torch.equal(augment.diff_augment(x, p=0.0), x)


def test_ada_controller_raises_p_when_the_discriminator_overfits():
    assert augment.ada_overfitting(torch.tensor([2.0, 1.0, 0.5, -1.0])) == 0.5
    p = 0.0
    for _ in range(10):
        p = augment.ada_update(p, 0.9)
    assert p == pytest.approx(0.1)
    for _ in range(30):
        p = augment.ada_update(p, 0.2)
    assert p == 0.0
    assert augment.ada_update(1.0, 1.0) == 1.0
    with pytest.raises(ValueError, match="r_t"):
        augment.ada_update(0.5, 2.0)


def test_augment_validates_arguments():
    with pytest.raises(ValueError, match="policy"):
        augment.diff_augment(torch.zeros(2, 1, 8, 8), ("rotate",))
    with pytest.raises(TypeError, match="policy"):
        augment.diff_augment(torch.zeros(2, 1, 8, 8), "translation")
    with pytest.raises(ValueError, match="p"):
        augment.diff_augment(torch.zeros(2, 1, 8, 8), p=1.5)


def test_trainer_shows_the_discriminator_augmented_real_and_fake():
    """With augmentation on, the discriminator never sees an un-augmented real or fake batch."""
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(64, 1)

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.lin(x.flatten(1)).squeeze(1)

    data = torch.full((10, 1, 8, 8), 1.0)  # all-white images: cutout leaves a background hole in each
    g = modern.Digits8Generator(channels=4)
    with torch.no_grad():
        g.net[-2].bias.fill_(10.0)  # its samples are white too (tanh(10) ~ 1)
    cfg = modern.ModernConfig(batch=4, augment=("cutout",))
    modern.train_modern(g, Spy(), data, cfg, 2)
    for batch in seen:
        assert torch.all((batch < -0.99).flatten(1).sum(1) >= 9)  # every image, real or fake, has a 3x3 hole


# --- StyleGAN pieces ----------------------------------------------------------------------------
def test_modulated_conv_shapes_and_unit_variance():
    torch.manual_seed(0)
    conv = style.ModulatedConv2d(64, 16, 3, w_dim=8)
    nn.init.normal_(conv.affine.weight, std=0.5)  # non-trivial styles
    w = torch.randn(6, 8)
    weight = conv.modulated_weight(w)
    assert weight.shape == (6, 16, 64, 3, 3)
    assert torch.allclose(weight.pow(2).sum(dim=(2, 3, 4)), torch.ones(6, 16), atol=1e-4)  # Eq. 3
    x = torch.randn(6, 64, 32, 32)
    out = conv(x, w) - conv.bias[None, :, None, None]
    assert out.shape == (6, 16, 32, 32)
    inner = out[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert inner.std().item() == pytest.approx(1.0, abs=0.05)
    assert inner.std(dim=(2, 3)).sub(1).abs().max() < 0.15  # each sample, each channel


def test_modulated_conv_equals_a_plain_conv_per_sample():
    torch.manual_seed(1)
    conv = style.ModulatedConv2d(4, 3, 3, w_dim=5, demodulate=False)
    nn.init.normal_(conv.affine.weight)
    x, w = torch.randn(2, 4, 6, 6), torch.randn(2, 5)
    out = conv(x, w)
    for i in range(2):
        ref = torch.nn.functional.conv2d(x[i : i + 1], conv.modulated_weight(w)[i], conv.bias, padding=1)
        assert torch.allclose(out[i : i + 1], ref, atol=1e-5)
    with pytest.raises(ValueError, match="kernel_size"):
        style.ModulatedConv2d(4, 3, 2, w_dim=5)


def test_truncation_identity_and_mean():
    w, w_avg = torch.randn(10, 6), torch.randn(6)
    assert torch.equal(style.truncate(w, w_avg, 1.0), w)
    assert torch.equal(style.truncate(w, w_avg, 0.0), w_avg.expand(10, 6))
    assert torch.allclose(style.truncate(w, w_avg, 0.5), (w + w_avg) / 2)
    with pytest.raises(ValueError, match="w_avg"):
        style.truncate(w, torch.zeros(5), 0.5)


def test_style_generator_shapes_w_avg_and_psi_zero():
    torch.manual_seed(0)
    g = style.StyleGenerator(channels=8)
    z = torch.randn(32, 32)
    assert g(z).shape == (32, 1, 8, 8)  # training mode: w_avg moves
    assert g.w_avg.abs().sum() > 0
    g.eval()
    with torch.no_grad():
        same = g(z, psi=0.0)
    assert torch.allclose(same, same[:1].expand_as(same), atol=1e-6)  # psi = 0: every sample is the average one
    assert torch.allclose(g(z, psi=1.0), g.synthesis(g.mapping(z)))


def test_train_modern_runs_and_validates():
    torch.manual_seed(0)
    data = torch.rand(20, 1, 8, 8) * 2 - 1
    run = modern.train_modern(
        style.StyleGenerator(channels=4),
        modern.Digits8Discriminator(channels=4, spectral_norm=True),
        data,
        modern.ModernConfig(batch=4, augment=("translation",)),
        3,
    )
    assert len(run.d_loss) == len(run.g_loss) == 3 and run.seconds >= 0
    with pytest.raises(ValueError, match="loss"):
        modern.ModernConfig(loss="wgan")
    with pytest.raises(ValueError, match="augment"):
        modern.ModernConfig(augment=("flip",))
    with pytest.raises(TypeError, match="config"):
        modern.train_modern(style.StyleGenerator(channels=4), nn.Linear(1, 1), data, {}, 1)
