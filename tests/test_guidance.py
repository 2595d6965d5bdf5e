"""Tests of classifier-free guidance as the guidance chapter uses it (genai_lib.diffusion.guidance).

Ho & Salimans (2022) write ε̃ = (1 + w) ε_c − w ε_∅; diffusers' pipelines (and Stable Diffusion) write
ε_∅ + s (ε_c − ε_∅). The tests pin the library to the first and show that it is the second with s = 1 + w,
that the null label is what a conditional denoiser reads when no label is given, and that the exercise
checkers of the chapter accept the solutions and reject the usual mistakes.
"""

from __future__ import annotations

import pytest
import torch

from genai_lib.diffusion import DDIMSampler, MLPDenoiser, NoiseSchedule, UNetDenoiser, drop_labels, guided_eps
from genai_lib.exercises import diffusion as ex

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _conditional_mlp(seed: int = 0) -> MLPDenoiser:
    torch.manual_seed(seed)
    model = MLPDenoiser(data_shape=(1, 8, 8), hidden=32, depth=1, n_classes=10).eval()
    torch.nn.init.normal_(model.out.weight, std=0.2)  # the output layer starts at zero; make every input matter
    return model


def test_guided_eps_is_diffusers_convention_with_s_equal_one_plus_w():
    model = _conditional_mlp()
    g = torch.Generator().manual_seed(1)
    x, t, c = torch.randn(5, 1, 8, 8, generator=g), torch.tensor([999, 600, 300, 20, 0]), torch.tensor([0, 2, 4, 6, 9])
    with torch.no_grad():
        eps_c, eps_null = model(x, t, c), model(x, t)
        for w in (0.0, 0.5, 2.0, 6.5):
            s = 1 + w  # diffusers' guidance_scale
            diffusers_form = eps_null + s * (eps_c - eps_null)
            assert torch.allclose(guided_eps(model, x, t, c, w), diffusers_form, atol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        _conditional_mlp,
        lambda: UNetDenoiser(image_size=8, base_channels=8, channel_mults=(1, 2), n_classes=10).eval(),
    ],
)
def test_missing_label_is_the_null_label(make):
    model = make()
    x, t = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2)), torch.tensor([5, 500, 900])
    with torch.no_grad():
        assert torch.equal(model(x, t), model(x, t, torch.full((3,), model.null_label)))
    assert model.null_label == 10


def test_w_zero_sampling_is_plain_conditional_sampling_and_guidance_changes_samples():
    model = _conditional_mlp()
    sampler = DDIMSampler(NoiseSchedule("cosine", 1000), 10)
    labels = torch.arange(4)

    def run(**kwargs):
        return sampler.sample(model, (4, 1, 8, 8), generator=torch.Generator().manual_seed(3), labels=labels, **kwargs)

    assert torch.equal(run(), run(guidance_scale=0.0))
    assert not torch.allclose(run(), run(guidance_scale=2.0))


def test_drop_labels_rate_and_repeatability():
    labels = torch.arange(10).repeat(2000)
    dropped = drop_labels(labels, 0.1, 10, generator=torch.Generator().manual_seed(4))
    share = (dropped == 10).float().mean().item()
    assert abs(share - 0.1) < 0.01  # 20,000 flips: sd 0.002
    kept = dropped != 10
    assert torch.equal(dropped[kept], labels[kept])  # kept labels are untouched
    with pytest.raises(ValueError, match="p"):
        drop_labels(labels, 1.5, 10)


def test_guidance_checkers_accept_solutions_and_reject_mistakes():
    assert ex.check_guided_eps(lambda c, n, w: (1 + w) * c - w * n)
    assert not ex.check_guided_eps(lambda c, n, w: w * c - (w - 1) * n)  # diffusers' form with s = w
    assert not ex.check_guided_eps(lambda c, n, w: (1 + w) * n - w * c)  # roles swapped
    assert ex.check_guidance_scale_convention(6.5) and not ex.check_guidance_scale_convention(7.5)

    def one_call(model, x_t, t, labels, w):
        null = torch.full_like(labels, model.null_label)
        eps_c, eps_n = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([labels, null])).chunk(2)
        return (1 + w) * eps_c - w * eps_n

    assert ex.check_batched_guidance(one_call)
    assert not ex.check_batched_guidance(lambda m, x, t, c, w: guided_eps(m, x, t, c, w))  # two calls
    assert not ex.check_batched_guidance(lambda m, x, t, c, w: one_call(m, x, t, c, w).flip(0))
    assert ex.check_tilted_mean(1.6148) and not ex.check_tilted_mean(1.0)
    assert ex.check_tilted_mean(1.0, w=0)
    with pytest.raises(TypeError):
        ex.check_guided_eps("not a function")
