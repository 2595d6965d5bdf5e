"""Tests of the decoding chapter's library code: repetition cures, the repetition measure, the KV
cache's size, and generation with the cures (cached and uncached agree). Agreement with the
reference implementations in ``transformers`` (its logits processors) is checked when it is installed."""

from __future__ import annotations

import pytest
import torch

from genai_lib.llm import GPT, GPTConfig, next_token_probs, top_k_filter, top_p_filter
from genai_lib.llm.decoding import ban_repeated_ngrams, repeated_ngram_fraction, repetition_penalty

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tiny_gpt(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    config = dict(vocab_size=37, block_size=16, n_layer=2, n_head=2, n_embd=16) | overrides
    return GPT(GPTConfig(**config)).eval()


def test_repetition_penalty_on_hand_made_logits():
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    previous = torch.tensor([[0, 1, 1, 0]])  # tokens 0 and 1 occurred (each penalised once)
    out = repetition_penalty(logits, previous, 2.0)
    assert out.tolist() == [[1.0, -2.0, 0.5, 3.0]]
    assert torch.equal(repetition_penalty(logits, previous, 1.0), logits)
    assert torch.equal(repetition_penalty(logits, previous[:, :0], 2.0), logits)


def test_ban_repeated_ngrams_on_hand_made_sequences():
    logits = torch.zeros(1, 5)
    previous = torch.tensor([[1, 2, 3, 1, 2]])  # the tail (1, 2) was followed by 3 before
    banned = lambda n: torch.isinf(ban_repeated_ngrams(logits, previous, n))[0].nonzero().flatten().tolist()  # noqa: E731
    assert banned(3) == [3]
    assert banned(2) == [3]  # the tail (2,) was followed by 3
    assert banned(1) == [1, 2, 3]  # every token seen
    assert banned(4) == []  # (3, 1, 2) never occurred before
    assert banned(6) == []  # shorter than n: nothing to repeat
    # the same id after a match and after a non-match is banned (an OR, not a last-write)
    assert torch.isinf(ban_repeated_ngrams(torch.zeros(1, 4), torch.tensor([[0, 3, 1, 3, 0]]), 2))[0, 3]


def test_repeated_ngram_fraction():
    assert repeated_ngram_fraction("abcdef", 2) == 0.0
    assert repeated_ngram_fraction("abababab", 2) == 5 / 7  # ab ba ab ba ab ba ab: the first two are new
    assert repeated_ngram_fraction("aaaa", 1) == 0.75
    assert repeated_ngram_fraction("ab", 3) == 0.0
    assert repeated_ngram_fraction([1, 2, 1, 2], 2) == repeated_ngram_fraction(torch.tensor([1, 2, 1, 2]), 2) == 1 / 3
    with pytest.raises(ValueError, match="no_repeat_ngram_size"):
        repeated_ngram_fraction("abc", 0)
    with pytest.raises(TypeError, match="tokens"):
        repeated_ngram_fraction(12, 2)


def test_bad_arguments_name_the_argument():
    logits, previous = torch.zeros(2, 5), torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="repetition_penalty"):
        repetition_penalty(logits, previous, 0.5)
    with pytest.raises(TypeError, match="no_repeat_ngram_size"):
        ban_repeated_ngrams(logits, previous, 2.0)
    with pytest.raises(ValueError, match="previous"):
        ban_repeated_ngrams(logits, previous[:1], 2)
    model = tiny_gpt()
    idx = torch.zeros(1, 1, dtype=torch.long)
    with pytest.raises(ValueError, match="repetition_penalty"):
        model.generate(idx, 2, repetition_penalty=0.9)
    with pytest.raises(ValueError, match="no_repeat_ngram_size"):
        model.generate(idx, 2, no_repeat_ngram_size=0)


@pytest.mark.parametrize("prompt_len,new", [(3, 10), (5, 30)])  # 5 + 30 > block_size 16: the window slides
def test_generate_with_cures_same_with_and_without_cache(prompt_len, new):
    model = tiny_gpt(seed=3)
    idx = torch.randint(37, (2, prompt_len), generator=torch.Generator().manual_seed(0))
    kw = dict(temperature=0.0, repetition_penalty=1.3, no_repeat_ngram_size=3)
    assert torch.equal(model.generate(idx, new, use_cache=True, **kw), model.generate(idx, new, use_cache=False, **kw))
    kw = dict(temperature=0.8, top_p=0.9, repetition_penalty=1.2)
    runs = [
        model.generate(idx, new, use_cache=c, generator=torch.Generator().manual_seed(1), **kw) for c in (True, False)
    ]
    assert torch.equal(*runs)


def test_no_repeat_ngram_generation_never_repeats_an_ngram():
    model = tiny_gpt(seed=5, vocab_size=8)  # a tiny vocabulary: greedy decoding loops at once
    idx = torch.zeros(1, 1, dtype=torch.long)
    plain = model.generate(idx, 40, temperature=0.0)[0].tolist()
    cured = model.generate(idx, 40, temperature=0.0, no_repeat_ngram_size=3)[0].tolist()
    assert repeated_ngram_fraction(plain, 3) > 0.5
    assert repeated_ngram_fraction(cured, 3) == 0.0


def test_kv_cache_size():
    model = tiny_gpt()
    cache = model.new_cache(3)
    # 2 (keys, values) x layers x batch x block_size x n_embd float32 values
    assert cache.nbytes == 2 * 2 * 3 * 16 * 16 * 4


def test_decoding_agrees_with_transformers_logits_processors():
    lp = pytest.importorskip("transformers.generation.logits_process")
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        logits = torch.randn(3, 20, generator=g) * 3
        previous = torch.randint(0, 6, (3, 25), generator=g)
        for n in (1, 2, 3, 4):
            ours = ban_repeated_ngrams(logits, previous, n)
            assert torch.equal(ours, lp.NoRepeatNGramLogitsProcessor(n)(previous, logits.clone()))
        theirs = lp.RepetitionPenaltyLogitsProcessor(1.3)(previous, logits.clone())
        assert torch.allclose(repetition_penalty(logits, previous, 1.3), theirs)
        for k in (1, 5, 19):
            theirs = lp.TopKLogitsWarper(k)(previous, logits.clone())
            assert torch.equal(top_k_filter(logits, k), theirs)
        for p in (0.1, 0.5, 0.9, 0.99):
            theirs = lp.TopPLogitsWarper(p)(previous, logits.clone())
            assert torch.equal(torch.isinf(top_p_filter(logits, p)), torch.isinf(theirs))
        # the whole chain: temperature, then top-k, then top-p, then softmax
        z = lp.TemperatureLogitsWarper(0.7)(previous, logits.clone())
        z = lp.TopPLogitsWarper(0.9)(previous, lp.TopKLogitsWarper(8)(previous, z))
        assert torch.allclose(next_token_probs(logits, 0.7, 8, 0.9), torch.softmax(z, -1), atol=1e-6)
