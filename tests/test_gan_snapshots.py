"""The GAN Lab explorer's pieces: the latent grid and its image, and the dissected update (genai_lib.gan)."""

import math

import pytest
import torch

from genai_lib.data import toy2d
from genai_lib.gan import GANConfig, GANTrainer, MLPDiscriminator, MLPGenerator
from genai_lib.gan.snapshots import PHASES, grid_polyline, latent_grid, member_snapshot


def trainer_2d(members=1, seed=0, **cfg):
    torch.manual_seed(0)
    G = MLPGenerator(z_dim=4, hidden=16, depth=2, members=members)
    D = MLPDiscriminator(hidden=16, depth=2, members=members)
    config = GANConfig(batch_size=16 * members, seed=seed, snapshot_samples=10 * members, grid_size=6, **cfg)
    return GANTrainer(G, D, toy2d("ring8", 300, seed=1), config=config)


# -- the latent grid -------------------------------------------------------------------------------


def test_latent_grid_lays_out_rows_then_columns_in_the_first_two_coordinates():
    z = latent_grid(5, lines=3, span=2.0)
    points = 4 * (3 - 1) + 1
    assert z.shape == (2 * 3 * points, 5)
    assert torch.equal(z[:, 2:], torch.zeros(len(z), 3))  # the other coordinates held at 0
    lines = z[:, :2].reshape(6, points, 2)
    ticks = torch.linspace(-2.0, 2.0, 3)
    along = torch.linspace(-2.0, 2.0, points)
    for i in range(3):
        assert torch.allclose(lines[i, :, 0], along) and torch.allclose(lines[i, :, 1], ticks[i].expand(points))
        assert torch.allclose(lines[3 + i, :, 1], along) and torch.allclose(lines[3 + i, :, 0], ticks[i].expand(points))
    # every crossing of the grid is on a row and on a column
    crossings = torch.cartesian_prod(ticks, ticks)
    for c in crossings:
        on = (z[:, :2] - c).abs().sum(dim=1) < 1e-6
        assert on.sum() == 2
    assert latent_grid(2, lines=4, points=7).shape == (2 * 4 * 7, 2)


def test_latent_grid_and_polyline_validate_their_arguments():
    with pytest.raises(ValueError, match="z_dim"):
        latent_grid(1, lines=3)
    with pytest.raises(ValueError, match="lines"):
        latent_grid(4, lines=1)
    with pytest.raises(ValueError, match="span"):
        latent_grid(4, lines=3, span=0.0)
    with pytest.raises(TypeError, match="points"):
        latent_grid(4, lines=3, points=2.5)
    with pytest.raises(ValueError, match="images"):
        grid_polyline(torch.zeros(7, 2), lines=2)
    with pytest.raises(ValueError, match="images"):
        grid_polyline(torch.zeros(8), lines=2)


def test_grid_polyline_breaks_between_lines_and_keeps_every_point():
    images = torch.arange(24, dtype=torch.float32).reshape(12, 2)  # lines=2: 4 lines of 3 points
    line = grid_polyline(images, lines=2)
    assert line.shape == (16, 2)
    gaps = torch.isnan(line).all(dim=1)
    assert gaps.tolist() == [False, False, False, True] * 4
    assert torch.equal(line[~gaps], images)


def test_config_validates_the_manifold_fields():
    with pytest.raises(ValueError, match="manifold_lines"):
        GANConfig(manifold_lines=1)
    with pytest.raises(ValueError, match="manifold_span"):
        GANConfig(manifold_span=-1.0)
    assert GANConfig().manifold_lines is None


# -- the manifold in the snapshots -----------------------------------------------------------------


def test_snapshot_manifold_is_the_generator_image_of_the_latent_grid():
    trainer = trainer_2d(manifold_lines=3, manifold_span=1.5)
    trainer.fit(4, snapshot_every=2, progress=False)
    z = latent_grid(4, lines=3, span=1.5)
    with torch.no_grad():
        direct = grid_polyline(trainer.generator(z), lines=3)
    last = trainer.snapshots[-1]
    assert last.manifold.shape == (2 * 3 * 10, 2)
    assert torch.allclose(last.manifold, direct, atol=1e-6, equal_nan=True)
    frames = trainer.frames(toy2d("ring8", 20, seed=3), arrow_length=0.3)
    assert list(frames[0]) == ["D(x)", "real", "latent grid", "generated", "gradient"]
    # without the option nothing changes
    plain = trainer_2d()
    plain.fit(2, snapshot_every=2, progress=False)
    assert plain.snapshots[-1].manifold is None and "latent grid" not in plain.frames()[0]


def test_member_manifold_is_that_member_own_image():
    trainer = trainer_2d(members=3, manifold_lines=2)
    trainer.fit(2, snapshot_every=1, progress=False)
    snap = trainer.snapshots[-1]
    assert snap.manifold.shape == (3, 2 * 2 * (5 + 1), 2)  # 4 lines of 5 points, a NaN after each
    z = latent_grid(4, lines=2)
    for k in range(3):
        with torch.no_grad():
            direct = grid_polyline(trainer.generator.member(k)(z), lines=2)
        assert torch.allclose(member_snapshot(snap, k, 3).manifold, direct, atol=1e-6, equal_nan=True)
    assert not torch.allclose(snap.manifold[0], snap.manifold[1], equal_nan=True)  # independent members


# -- the dissected update --------------------------------------------------------------------------


def test_dissected_update_separates_the_discriminator_and_generator_moves():
    trainer = trainer_2d(manifold_lines=2)
    trainer.fit(6, d_steps=2, dissect=[0, 3], progress=False)
    assert sorted(trainer.dissections) == [0, 3]
    for step, (before, after_d, after_g) in trainer.dissections.items():
        assert [s.phase for s in (before, after_d, after_g)] == list(PHASES)
        assert (before.step, after_d.step, after_g.step) == (step, step, step + 1)
        # the discriminator's steps change its map and leave the generator (samples, latent grid) alone
        assert torch.equal(before.samples, after_d.samples)
        assert torch.equal(before.manifold.nan_to_num(), after_d.manifold.nan_to_num())
        assert not torch.allclose(before.d_grid, after_d.d_grid)
        # the generator's step moves the samples and the latent grid and leaves the map alone
        assert torch.equal(after_d.d_grid, after_g.d_grid)
        assert not torch.allclose(after_d.samples, after_g.samples)
        assert not torch.allclose(after_d.manifold.nan_to_num(), after_g.manifold.nan_to_num())
        # the arrows at "after D" are the new discriminator's: they change though the samples do not
        assert not torch.allclose(before.arrows[:, 2:], after_d.arrows[:, 2:])
    assert trainer.dissected_snapshots() == [s for step in (0, 3) for s in trainer.dissections[step]]
    frames = trainer.frames(dissections=True, arrow_length=0.2)
    assert len(frames) == 6 and list(frames[0]) == ["D(x)", "latent grid", "generated", "gradient"]
    longest = max(f["gradient"][:, 2:].norm(dim=1).max().item() for f in frames)
    assert longest == pytest.approx(0.2, rel=1e-5)


def test_dissecting_does_not_change_the_run():
    def run(dissect):
        trainer = trainer_2d(loss="wgan_gp", penalty_weight=0.1)
        trainer.fit(5, d_steps=2, dissect=dissect, progress=False)
        return trainer

    plain, dissected = run(()), run([1, 4])
    for a, b in zip(plain.modules().values(), dissected.modules().values()):
        if isinstance(a, torch.nn.Module):
            assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert plain.history.values == dissected.history.values
    # the snapshot after the dissected update is the state the next update starts from
    with torch.no_grad():
        assert torch.allclose(dissected.dissections[4][2].samples, dissected.generator(dissected.fixed_z))


def test_dissection_for_members_and_argument_checks():
    trainer = trainer_2d(members=2)
    trainer.fit(2, dissect=[1], progress=False)
    frames = trainer.frames(member=1, dissections=True, arrow_length=0.1)
    assert len(frames) == 3 and frames[0]["D(x)"].shape == (6, 6) and frames[0]["generated"].shape == (10, 2)
    with pytest.raises(ValueError, match="member"):
        trainer.frames(member=2, dissections=True)
    with pytest.raises(TypeError, match="dissections"):
        trainer.frames(member=0, dissections=1)
    with pytest.raises(TypeError, match="dissect"):
        trainer.fit(4, dissect=3, progress=False)
    with pytest.raises(ValueError, match=r"dissect\[1\]"):
        trainer.fit(4, dissect=[2, 4], progress=False)
    fresh = trainer_2d()
    fresh.fit(1, progress=False)
    with pytest.raises(ValueError, match="dissect"):
        fresh.frames(dissections=True)
    assert math.isfinite(trainer.history.values["d_loss"][-1])
