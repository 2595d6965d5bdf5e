"""Tests of what the convolutional-GAN chapter adds to genai_lib.gan: the EMA of the generator's
weights (genai_lib.ema, and the trainer's ``ema_decay``) and the spectrally normalised
discriminator (checked against a direct SVD of each layer's weight)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genai_lib.data import load_digits
from genai_lib.gan import EMA, ConvDiscriminator, ConvGenerator, GANConfig, GANTrainer, ema_update

# -- EMA ----------------------------------------------------------------------------------------


def test_ema_update_hand_computed_and_buffers_copied():
    avg, new = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    with torch.no_grad():
        avg.weight.copy_(torch.tensor([1.0, 2.0]))
        new.weight.copy_(torch.tensor([3.0, -2.0]))
        new.running_mean.copy_(torch.tensor([0.5, 0.7]))
    ema_update(avg, new, 0.75)
    assert torch.allclose(avg.weight, torch.tensor([0.75 * 1 + 0.25 * 3, 0.75 * 2 + 0.25 * -2]))
    assert torch.equal(avg.running_mean, new.running_mean)  # buffers are copied, not averaged
    ema_update(avg, new, 0.0)
    assert torch.equal(avg.weight, new.weight)  # decay 0 copies


def test_ema_is_the_geometric_average_of_the_iterates():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    ema = EMA(model, decay=0.9)
    assert not any(p.requires_grad for p in ema.model.parameters()) and not ema.model.training
    start = model.weight.detach().clone()
    iterates = []
    for k in range(5):
        with torch.no_grad():
            model.weight.add_(float(k + 1))
        iterates.append(model.weight.detach().clone())
        ema.update(model)
    # θ_ema after n updates = β^n θ_0 + Σ_k (1 − β) β^(n−1−k) θ_k.
    expected = 0.9**5 * start + sum(0.1 * 0.9 ** (4 - k) * w for k, w in enumerate(iterates))
    assert torch.allclose(ema.model.weight, expected, atol=1e-6) and ema.num_updates == 5
    ema.load_state_dict(model.state_dict())
    assert torch.equal(ema.state_dict()["weight"], model.weight)


@pytest.mark.parametrize("decay", [1.0, -0.1, float("nan")])
def test_ema_bad_decay(decay):
    with pytest.raises(ValueError, match="decay"):
        EMA(nn.Linear(2, 2), decay)
    with pytest.raises(ValueError, match="ema_decay"):
        GANConfig(ema_decay=decay)


def test_ema_bad_args():
    with pytest.raises(TypeError, match="decay"):
        EMA(nn.Linear(2, 2), True)
    with pytest.raises(TypeError, match="model"):
        EMA("generator")
    with pytest.raises(ValueError, match="average"):
        ema_update(nn.Linear(2, 3), nn.Linear(3, 2), 0.5)


def _digit_trainer(ema_decay=None, n_classes=None, spectral_norm=False):
    images, labels = load_digits(16)
    torch.manual_seed(0)
    G = ConvGenerator(z_dim=8, channels=4, n_classes=n_classes)
    D = ConvDiscriminator(channels=4, n_classes=n_classes, spectral_norm=spectral_norm)
    config = GANConfig(loss="r1", penalty_weight=1.0, batch_size=16, snapshot_samples=12, ema_decay=ema_decay)
    return GANTrainer(G, D, images[:200], None if n_classes is None else labels[:200], config=config)


def test_trainer_ema_does_not_change_training_and_snapshots_sample_the_average():
    plain, averaged = _digit_trainer(), _digit_trainer(ema_decay=0.8)
    assert plain.ema is None and plain.ema_model is plain.generator and "generator_ema" not in plain.modules()
    plain.fit(3, progress=False)
    averaged.fit(3, snapshot_every=1, progress=False)
    snaps = averaged.snapshots
    # The average is a by-stander: the trained generator is bit-identical with or without it.
    for a, b in zip(plain.generator.state_dict().values(), averaged.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert averaged.ema.num_updates == 3 and averaged.ema_model is averaged.ema.model
    assert averaged.modules()["generator_ema"] is averaged.ema.model
    with torch.no_grad():
        direct = averaged.ema.model.eval()(averaged.fixed_z)
        trained = averaged.generator.eval()(averaged.fixed_z)
    assert torch.allclose(snaps[-1].samples, direct) and not torch.allclose(snaps[-1].samples, trained)
    # Step 0's snapshot is the untrained generator (the average starts as a copy).
    assert [s.step for s in snaps] == [0, 1, 2, 3]


def test_trainer_ema_conditional():
    trainer = _digit_trainer(ema_decay=0.5, n_classes=10)
    trainer.fit(2, snapshot_every=2, progress=False)
    snaps = trainer.snapshots
    assert snaps[-1].samples.shape == (12, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(snaps[-1].samples, trainer.ema.model(trainer.fixed_z, trainer.fixed_labels))


# -- spectral normalisation -------------------------------------------------------------------------


def _weights(module):
    """(name, effective weight as a matrix) for every normalised layer."""
    out = []
    for name, m in module.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            out.append((name, m.weight.reshape(m.weight.shape[0], -1)))
    return out


@pytest.mark.parametrize("n_classes", [None, 10])
def test_spectral_norm_matches_svd(n_classes):
    torch.manual_seed(0)
    D = ConvDiscriminator(channels=8, n_classes=n_classes, spectral_norm=True)
    x = torch.randn(4, 1, 16, 16)
    labels = None if n_classes is None else torch.arange(4)
    for _ in range(30):  # power iterations run in training mode, one per forward pass
        D(x, labels)
    D.eval()
    layers = _weights(D)
    assert len(layers) == (4 if n_classes else 3)
    for name, w in layers:
        # the reference: the largest singular value from a full SVD of the same matrix
        sigma = torch.linalg.matrix_norm(w.detach(), ord=2).item()
        assert abs(sigma - 1.0) < 1e-3, (name, sigma)
    plain = ConvDiscriminator(channels=8, n_classes=n_classes)
    assert all(abs(torch.linalg.matrix_norm(w.detach(), ord=2).item() - 1.0) > 0.05 for _, w in _weights(plain))


def test_spectral_norm_trains_and_validates():
    trainer = _digit_trainer(spectral_norm=True)
    history = trainer.fit(2, progress=False)
    assert len(history) == 2 and trainer.discriminator.spectral_norm
    with pytest.raises(TypeError, match="spectral_norm"):
        ConvDiscriminator(spectral_norm=1)
