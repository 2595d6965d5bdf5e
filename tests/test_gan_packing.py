"""Packing (PacGAN) and the minibatch standard deviation (ProGAN): genai_lib.gan.packing and MLPDiscriminator."""

from __future__ import annotations

import pytest
import torch

from genai_lib import gan
from genai_lib.gan.packing import MinibatchStd, minibatch_std, pack


def test_pack_shape_and_which_rows_go_together():
    x = torch.arange(24.0).reshape(12, 2)
    packed = pack(x, 3)
    assert packed.shape == (4, 6)
    # pack j holds rows 3j, 3j+1, 3j+2, in order
    for j in range(4):
        assert torch.equal(packed[j], torch.cat([x[3 * j], x[3 * j + 1], x[3 * j + 2]]))
    assert torch.equal(pack(x, 1), x)


def test_pack_keeps_leading_member_dimension():
    x = torch.randn(3, 8, 2)
    packed = pack(x, 4)
    assert packed.shape == (3, 2, 8)
    assert torch.equal(packed[1, 1], x[1, 4:8].reshape(-1))


def test_pack_gradient_reaches_every_sample():
    x = torch.randn(8, 2, requires_grad=True)
    w = torch.randn(8)  # a different weight for each slot of a pack of 4 samples of 2 coordinates
    (pack(x, 4) @ w).sum().backward()
    assert torch.equal(x.grad, w.reshape(4, 2).repeat(2, 1))
    assert (x.grad != 0).all()


@pytest.mark.parametrize(
    "args, error",
    [
        ((torch.randn(7, 2), 2), ValueError),
        ((torch.randn(8), 2), ValueError),
        ((torch.randn(8, 2), 0), ValueError),
        (([[1.0, 2.0]], 1), TypeError),
        ((torch.ones(4, 2, dtype=torch.int64), 2), TypeError),
    ],
)
def test_pack_validates(args, error):
    with pytest.raises(error):
        pack(*args)


def test_minibatch_std_matches_direct_computation():
    torch.manual_seed(0)
    h = torch.randn(8, 5)
    out = minibatch_std(h, 4)
    assert out.shape == (8, 6)
    assert torch.equal(out[:, :5], h)
    for g in range(2):
        rows = h[4 * g : 4 * g + 4]
        direct = torch.stack([rows[:, c].std(unbiased=False) for c in range(5)]).mean()
        assert torch.allclose(out[4 * g : 4 * g + 4, 5], direct.expand(4), atol=1e-6)
    # identical rows (a collapsed group) give ~0; spread rows more
    same = minibatch_std(torch.ones(4, 3), 4)
    assert same[:, 3].max() < 1e-3 and out[:, 5].min() > 0.3


def test_minibatch_std_members_and_gradient():
    h = torch.randn(2, 8, 3, requires_grad=True)
    out = MinibatchStd(4)(h)
    assert out.shape == (2, 8, 4)
    assert torch.allclose(out[1, :4], minibatch_std(h[1, :4].detach(), 4), atol=1e-6)
    out[..., -1].sum().backward()  # the std feature depends on every row of its group
    assert (h.grad.abs().sum(-1) > 0).all()
    with pytest.raises(ValueError, match="group"):
        minibatch_std(torch.randn(6, 2), 4)
    with pytest.raises(ValueError, match="group"):
        MinibatchStd(1)


def test_minibatch_std_agrees_with_torch_var_values_and_gradients():
    # the variance is written out (torch.var over a middle dimension is slow on the CPU); it must
    # agree with torch's own population variance, forward and backward, with leading dimensions
    torch.manual_seed(2)
    h = torch.randn(3, 16, 5, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, 16, 6, dtype=torch.float64)
    (minibatch_std(h, 4) * weights).sum().backward()
    ours = h.grad.clone()
    h.grad = None
    grouped = h.reshape(3, 4, 4, 5)
    std = (grouped.var(dim=-2, unbiased=False) + 1e-8).sqrt().mean(dim=-1, keepdim=True)
    reference = torch.cat([h, std.unsqueeze(-2).expand(3, 4, 4, 1).reshape(3, 16, 1)], dim=-1)
    assert torch.allclose(minibatch_std(h, 4), reference, atol=1e-12)
    (reference * weights).sum().backward()
    assert torch.allclose(ours, h.grad, atol=1e-10)


def test_packed_discriminator_scores_packs():
    torch.manual_seed(0)
    D = gan.MLPDiscriminator(hidden=16, depth=2, pack=2)
    assert D.rows_multiple == 2 and D.net[1].in_features == 4  # net[0] packs the inputs (PacGAN)
    x = torch.randn(6, 2)
    out = D(x)
    assert out.shape == (6,)
    assert torch.equal(out[0], out[1]) and torch.equal(out[2], out[3])  # one score per pack, repeated
    assert torch.allclose(out[::2], D.net[1:](pack(x, 2)).squeeze(1))
    # the pack's score depends on both its samples, and on no other
    y = x.clone()
    y[1] += 1.0
    out_y = D(y)
    assert out_y[0] != out[0] and torch.equal(out_y[2:], out[2:])
    with pytest.raises(ValueError, match="multiple of 2"):
        D(torch.randn(5, 2))


def test_pack_after_runs_each_sample_alone_first():
    torch.manual_seed(0)
    D = gan.MLPDiscriminator(hidden=8, depth=3, pack=3, pack_after=2)
    assert D.net[0].in_features == 2 and D.net[2].in_features == 8 and D.net[5].in_features == 24
    x = torch.randn(6, 2)
    features = D.net[:4](x)  # two per-sample hidden layers, the same weights for every sample
    assert torch.allclose(features[4], D.net[:4](x[4:5])[0])
    assert torch.allclose(D(x)[::3], D.net[5:](pack(features, 3)).squeeze(1), atol=1e-6)
    with pytest.raises(ValueError, match="pack_after"):
        gan.MLPDiscriminator(depth=3, pack=2, pack_after=3)


def test_packed_discriminator_gradient_flows_to_every_sample():
    D = gan.MLPDiscriminator(hidden=16, depth=2, pack=4, minibatch_std=2)
    assert D.rows_multiple == 8
    x = torch.randn(16, 2, requires_grad=True)
    D(x).sum().backward()
    assert (x.grad.norm(dim=1) > 0).all()


def test_packed_members_match_single_copies():
    torch.manual_seed(1)
    D = gan.MLPDiscriminator(hidden=16, depth=3, members=3, pack=2, pack_after=1, minibatch_std=2)
    x = torch.randn(3 * 8, 2)
    out = D(x)
    for k in range(3):
        single = D.member(k)
        assert single.pack == 2 and single.pack_after == 1 and single.minibatch_std == 2
        assert torch.allclose(single(x[8 * k : 8 * k + 8]), out[8 * k : 8 * k + 8], atol=1e-6)


def test_discriminator_options_validate():
    with pytest.raises(ValueError, match="pack"):
        gan.MLPDiscriminator(pack=0)
    with pytest.raises(ValueError, match="minibatch_std"):
        gan.MLPDiscriminator(minibatch_std=1)


def _trainer(D, batch=32, snapshot_samples=64, members=1):
    G = gan.MLPGenerator(z_dim=4, hidden=16, depth=2, members=members)
    real = torch.randn(256, 2)
    config = gan.GANConfig(batch_size=batch, snapshot_samples=snapshot_samples, grid_size=8)
    return gan.GANTrainer(G, D, real, config=config)


def test_trainer_trains_packed_and_minibatch_std_discriminators():
    torch.manual_seed(0)
    for D in (
        gan.MLPDiscriminator(hidden=16, depth=2, pack=4),
        gan.MLPDiscriminator(hidden=16, depth=2, minibatch_std=4),
    ):
        tr = _trainer(D)
        before = [p.detach().clone() for p in D.parameters()]
        history = tr.fit(3, snapshot_every=3, progress=False)
        assert len(history) == 3 and all(torch.isfinite(torch.tensor(history.as_arrays()[1]["d_loss"])))
        assert any(not torch.equal(a, b) for a, b in zip(before, D.parameters()))
        assert tr.snapshots[-1].samples.shape == (64, 2)


def test_trainer_checks_batch_fits_packs():
    with pytest.raises(ValueError, match="batch_size"):
        _trainer(gan.MLPDiscriminator(hidden=16, depth=2, pack=3), batch=32, snapshot_samples=63)
    with pytest.raises(ValueError, match="snapshot_samples"):
        _trainer(gan.MLPDiscriminator(hidden=16, depth=2, pack=4, members=2), batch=64, snapshot_samples=36, members=2)


def test_member_into_refreshes_a_copy():
    D = gan.MLPDiscriminator(hidden=8, depth=2, members=2, pack=2)
    G = gan.MLPGenerator(z_dim=3, hidden=8, depth=2, members=2)
    D1, G1 = D.member(1), G.member(1)
    with torch.no_grad():
        for p in (*D.parameters(), *G.parameters()):
            p.add_(1.0)
    assert D.member(1, into=D1) is D1 and G.member(1, into=G1) is G1
    x, z = torch.randn(4, 2), torch.randn(4, 3)
    assert torch.allclose(D1(x), D(torch.cat([x, x]))[4:], atol=1e-6)
    assert torch.allclose(G1(z), G(torch.cat([z, z]))[4:], atol=1e-6)
    with pytest.raises(ValueError, match="into"):
        D.member(0, into=gan.MLPDiscriminator(hidden=8, depth=2))
