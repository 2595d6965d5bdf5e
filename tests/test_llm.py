"""Tests of genai_lib.llm: tokenizers, attention, the GPT, decoding, the KV cache, LoRA and the CLIs."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genai_lib.llm import (
    GPT,
    BPETokenizer,
    CausalSelfAttention,
    CharTokenizer,
    GPTConfig,
    LoRALinear,
    TrainConfig,
    apply_lora,
    attention,
    causal_mask,
    complete,
    evaluate,
    get_batch,
    load_model,
    load_tokenizer,
    lora_parameters,
    lr_at,
    merge_lora,
    next_token_probs,
    token_spans,
    top_k_filter,
    top_p_filter,
    train_gpt,
)
from genai_lib.llm import cli as cli_module
from genai_lib.llm.tokenizers import merge_pair

CORPUS = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
    "First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n"
)
ODD_STRINGS = [
    "",
    "a",
    "héllo wörld",
    "日本語のテキスト",
    "emoji 😀👩‍👩‍👧 family",
    "e\u0301 combining",
    "tabs\tand\r\nnewlines\n\n",
    "   leading spaces",
    "x" * 300,
    "\x00\x01 control",
    "snake_case_name = 42",
    "Ω≈ç√∫˜µ≤≥÷",
    "½ ² ³ ٣ digits",
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The models here are tiny: a second thread buys nothing, and on a busy machine the threads'
    hand-offs make each small op many times slower. Restored after the module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def char_tok() -> CharTokenizer:
    return CharTokenizer().train(CORPUS)


@pytest.fixture(scope="module")
def bpe_tok() -> BPETokenizer:
    return BPETokenizer().train(CORPUS * 3 + "日本語 😀 café", 400)


def tiny_gpt(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    cfg = dict(vocab_size=37, block_size=16, n_layer=2, n_head=2, n_embd=16)
    cfg.update(overrides)
    return GPT(GPTConfig(**cfg)).eval()


# -- tokenizers -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text())
def test_tokenizers_round_trip_any_unicode(text, char_tok, bpe_tok):
    for tok in (char_tok, bpe_tok):
        ids = tok.encode(text)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert tok.decode(ids) == text


@settings(max_examples=40, deadline=None)
@given(train_text=st.text(min_size=1, max_size=200), text=st.text(max_size=200))
def test_tokenizers_trained_on_arbitrary_text_round_trip(train_text, text):
    for tok in (
        CharTokenizer().train(train_text),
        BPETokenizer().train(train_text, 300),
        BPETokenizer(pattern=None).train(train_text, 300),
    ):
        assert tok.decode(tok.encode(text)) == text
        assert tok.decode(tok.encode(train_text)) == train_text


@pytest.mark.parametrize("text", ODD_STRINGS)
def test_tokenizers_round_trip_odd_strings(text, char_tok, bpe_tok):
    for tok in (char_tok, bpe_tok):
        assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("text", ["", "First Citizen:\nBefore we proceed", "café 日本語 😀", *ODD_STRINGS])
def test_encode_as_tensor_equals_the_list(text, char_tok, bpe_tok):
    """``as_tensor=True`` is the same ids as a 1-D int64 tensor, byte fallback included."""
    for tok in (char_tok, bpe_tok):
        ids = tok.encode(text, as_tensor=True)
        assert isinstance(ids, torch.Tensor) and ids.dtype == torch.int64 and ids.dim() == 1
        assert ids.tolist() == tok.encode(text)
        with pytest.raises(TypeError, match="as_tensor"):
            tok.encode(text, as_tensor="yes")
    strict = CharTokenizer(byte_fallback=False).train(CORPUS)
    with pytest.raises(ValueError, match="'é'"):
        strict.encode("café", as_tensor=True)


def test_char_tokenizer_vocabulary_and_fallback(char_tok):
    chars = sorted(set(CORPUS))
    assert char_tok.chars == chars and char_tok.vocab_size == len(chars) + 256
    assert char_tok.encode("\n") == [0]  # sorted by code point: newline first
    assert char_tok.encode("é") == [len(chars) + 0xC3, len(chars) + 0xA9]  # UTF-8 bytes of an unseen char
    assert char_tok.token_bytes(len(chars) + 0xC3) == b"\xc3"
    strict = CharTokenizer(byte_fallback=False).train(CORPUS)
    assert strict.vocab_size == len(chars)
    with pytest.raises(ValueError, match="'é'"):
        strict.encode("café")
    small = CharTokenizer().train("aaabbc", vocab_size=258)  # keep the 2 most frequent characters
    assert small.chars == ["a", "b"] and small.decode(small.encode("abc")) == "abc"


def naive_bpe(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """The textbook loop, on one chunk: count every pair, merge the most frequent, repeat."""
    ids, merges = list(text.encode("utf-8")), []
    for new_id in range(256, vocab_size):
        counts = Counter(zip(ids, ids[1:]))
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        ids = merge_pair(ids, pair, new_id)
        merges.append(pair)
    return merges


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet="ab c\né", min_size=1, max_size=120), extra=st.integers(0, 40))
def test_bpe_training_equals_the_textbook_loop(text, extra):
    fast = BPETokenizer(pattern=None).train(text, 256 + extra)
    assert list(fast.merges) == naive_bpe(text, 256 + extra)


def test_bpe_merges_reduce_length():
    text = CORPUS * 4
    lengths = [len(BPETokenizer().train(text, v).encode(text)) for v in (256, 280, 320, 400)]
    assert lengths[0] == len(text.encode("utf-8"))  # no merges: one token per byte
    assert all(a > b for a, b in zip(lengths, lengths[1:])), lengths
    tok = BPETokenizer().train(text, 400)
    ((a, b),) = list(tok.merges)[:1]
    assert tok.vocab[256] == tok.vocab[a] + tok.vocab[b]  # the first merge joins two bytes
    # merges never cross a chunk boundary: a space begins a word, it never ends one
    assert not [t for t in tok.vocab[256:] if re.search(rb"\w ", t)]


def test_merge_pair_does_not_overlap():
    assert merge_pair([5, 5, 5], (5, 5), 9) == [9, 5]
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 7) == [7, 3, 7]


def test_bpe_truncated_equals_training_at_the_smaller_size():
    text = CORPUS * 3 + "日本語 😀 café"
    big = BPETokenizer().train(text, 360)
    for v in (256, 290, 330, 360):
        small = big.truncated(v)
        assert small.vocab_size == v and list(small.merges) == list(BPETokenizer().train(text, v).merges)
        assert small.decode(small.encode(text)) == text
    assert big.vocab_size == 360  # the original is untouched
    with pytest.raises(ValueError, match="vocab_size"):
        big.truncated(361)
    with pytest.raises(ValueError, match="vocab_size"):
        big.truncated(100)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text())
def test_token_spans_tile_the_text(text, char_tok, bpe_tok):
    for tok in (char_tok, bpe_tok):
        spans = token_spans(tok, text)
        assert [i for i, _, _ in spans] == tok.encode(text)
        assert "".join(text[a:b] for _, a, b in spans) == text
        assert all(a <= b for _, a, b in spans) and all(s[2] == t[1] for s, t in zip(spans, spans[1:]))


def test_token_spans_of_words_and_split_characters(bpe_tok):
    text = "Speak, speak."
    spans = token_spans(bpe_tok, text)
    assert all(text[a:b] == bpe_tok.decode([i]) for i, a, b in spans)
    raw = BPETokenizer().train("ab", 256)  # no merges: one token per byte
    spans = token_spans(raw, "a😀")  # the emoji is 4 bytes: its first byte carries the character
    assert [(a, b) for _, a, b in spans] == [(0, 1), (1, 2), (2, 2), (2, 2), (2, 2)]
    with pytest.raises(TypeError, match="tokenizer"):
        token_spans("not a tokenizer", "x")


def test_tokenizer_save_load(tmp_path, char_tok, bpe_tok):
    for tok in (char_tok, bpe_tok):
        path = tok.save(tmp_path / f"{type(tok).__name__}.json")
        again = load_tokenizer(path)
        assert type(again) is type(tok) and again.vocab_size == tok.vocab_size
        sample = CORPUS + "日本 😀"
        assert again.encode(sample) == tok.encode(sample)
    with pytest.raises(ValueError, match="BPETokenizer"):
        BPETokenizer.load(tmp_path / "CharTokenizer.json")


def test_tokenizer_bad_input_names_the_argument(char_tok, bpe_tok):
    with pytest.raises(ValueError, match="text"):
        CharTokenizer().train("")
    with pytest.raises(ValueError, match="text"):
        BPETokenizer().train("", 300)
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer().train("abc", 100)
    with pytest.raises(TypeError, match="text"):
        bpe_tok.encode(b"bytes")
    with pytest.raises(ValueError, match="surrogate"):
        char_tok.encode("a\ud800b")
    for tok in (char_tok, bpe_tok):
        with pytest.raises(ValueError, match="ids.*unknown token id"):
            tok.decode([0, tok.vocab_size])
        with pytest.raises(ValueError, match="ids"):
            tok.decode([-1])


# -- attention --------------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_torch_sdpa(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 12, 8, generator=g) for _ in range(3))
    ours, weights = attention(q, k, v, causal=causal)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert (ours - theirs).abs().max().item() < 1e-6
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 12))
    if causal:
        assert (weights.triu(1) == 0).all()


def test_attention_masks_and_scale_match_torch():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 4, 5, 8, generator=g)
    k, v = torch.randn(2, 4, 9, 8, generator=g), torch.randn(2, 4, 9, 6, generator=g)
    mask = torch.rand(5, 9, generator=g) > 0.3
    mask[:, 0] = True  # every query may attend somewhere
    ours, _ = attention(q, k, v, mask=mask, scale=0.5)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.5)
    assert (ours - theirs).abs().max().item() < 1e-6
    # causal with fewer queries than keys: the queries are the last 5 positions (a KV cache)
    ours, _ = attention(q, k, v, causal=True)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(5, 9))
    assert (ours - theirs).abs().max().item() < 1e-6
    assert causal_mask(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]


@pytest.mark.parametrize("need_weights", [False, True])
def test_causal_self_attention_blocks_the_future(need_weights):
    torch.manual_seed(0)
    layer = CausalSelfAttention(16, 4).eval()
    x = torch.randn(1, 10, 16, requires_grad=True)
    y, _ = layer(x, need_weights=need_weights)
    for i in range(10):
        (grad,) = torch.autograd.grad(y[0, i].sum(), x, retain_graph=True)
        assert (grad[0, i + 1 :] == 0).all(), f"output {i} depends on a later input"
        assert grad[0, : i + 1].abs().sum() > 0


def test_fused_and_explicit_attention_paths_agree():
    torch.manual_seed(0)
    layer = CausalSelfAttention(16, 4).eval()
    x = torch.randn(3, 10, 16)
    fused, none = layer(x)
    explicit, weights = layer(x, need_weights=True)
    assert none is None and weights.shape == (3, 4, 10, 10)
    assert (fused - explicit).abs().max().item() < 1e-6


# -- the GPT ----------------------------------------------------------------------------------


def test_gpt_forward_loss_and_weight_tying():
    model = tiny_gpt()
    idx = torch.randint(37, (2, 16))
    logits, loss = model(idx, idx)
    assert logits.shape == (2, 16, 37) and loss.ndim == 0
    assert abs(loss.item() - math.log(37)) < 0.2  # a fresh model is close to uniform
    assert model(idx)[1] is None
    assert model.lm_head.weight is model.transformer.wte.weight
    counts = model.parameter_counts()
    assert counts["total"] == sum(p.numel() for p in model.parameters()) == model.num_params()
    assert counts["token_embedding"] == 37 * 16 and counts["position_embedding"] == 16 * 16
    assert counts["attention"] == 2 * (16 * 48 + 48 + 16 * 16 + 16) and counts["lora"] == 0
    # the future does not change the logits of earlier positions
    changed = idx.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 37
    assert torch.allclose(model(changed)[0][:, :10], logits[:, :10], atol=1e-6)


def test_book_default_size():
    model = GPT(GPTConfig(vocab_size=65))
    assert 0.75e6 < model.num_params() < 0.85e6  # the "0.8 M parameters"


def test_attention_maps_for_the_explorer():
    model = tiny_gpt()
    maps = model.attention_maps(torch.randint(37, (2, 12)))
    assert maps.shape == (2, 2, 2, 12, 12)  # (layer, batch, head, query, key)
    assert torch.allclose(maps.sum(-1), torch.ones(2, 2, 2, 12), atol=1e-6)
    assert (maps.triu(1) == 0).all()


def test_kv_cache_prefill_in_chunks_equals_full_forward():
    model = tiny_gpt()
    idx = torch.randint(37, (2, 14))
    full, _ = model(idx)
    cache = model.new_cache(2)
    parts = [model.lm_head(model._hidden(chunk, cache)[0]) for chunk in (idx[:, :5], idx[:, 5:6], idx[:, 6:])]
    assert len(cache) == 14
    assert (torch.cat(parts, 1) - full).abs().max().item() < 1e-5


@pytest.mark.parametrize("prompt_len,new", [(3, 10), (5, 30)])  # 5 + 30 > block_size 16: the window slides
def test_generate_greedy_same_with_and_without_cache(prompt_len, new):
    model = tiny_gpt(seed=3)
    idx = torch.randint(37, (2, prompt_len), generator=torch.Generator().manual_seed(0))
    cached = model.generate(idx, new, temperature=0.0, use_cache=True)
    plain = model.generate(idx, new, temperature=0.0, use_cache=False)
    assert cached.shape == (2, prompt_len + new)
    assert torch.equal(cached, plain)
    assert torch.equal(cached[:, :prompt_len], idx)


def test_generate_sampling_is_repeatable_with_a_generator():
    model = tiny_gpt(seed=4)
    idx = torch.zeros(1, 1, dtype=torch.long)
    runs = [
        model.generate(idx, 20, temperature=1.0, top_k=10, top_p=0.9, generator=torch.Generator().manual_seed(7))
        for _ in range(2)
    ]
    assert torch.equal(*runs)
    assert model.training is False


def test_top_k_and_top_p_filters_on_hand_made_logits():
    probs = torch.tensor([[0.5, 0.2, 0.15, 0.1, 0.05]])
    logits = probs.log()
    kept = lambda z: torch.isfinite(z)[0].tolist()  # noqa: E731
    assert kept(top_k_filter(logits, 2)) == [True, True, False, False, False]
    assert kept(top_k_filter(logits, 99)) == [True] * 5
    assert kept(top_p_filter(logits, 0.5)) == [True, False, False, False, False]  # 0.5 reaches 0.5
    assert kept(top_p_filter(logits, 0.6)) == [True, True, False, False, False]
    assert kept(top_p_filter(logits, 0.86)) == [True, True, True, True, False]
    assert kept(top_p_filter(logits, 1.0)) == [True] * 5
    assert kept(top_p_filter(logits, 1e-9)) == [True, False, False, False, False]  # the top token always stays
    shuffled = logits[:, [3, 0, 4, 2, 1]]
    assert kept(top_p_filter(shuffled, 0.6)) == [False, True, False, False, True]
    p = next_token_probs(logits, temperature=1.0, top_k=3)
    assert torch.allclose(p, torch.tensor([[0.5, 0.2, 0.15, 0, 0]]) / 0.85)
    assert next_token_probs(logits, temperature=0.0).tolist() == [[1.0, 0, 0, 0, 0]]
    hot = next_token_probs(logits, temperature=100.0)
    assert (hot - 0.2).abs().max() < 0.01  # a high temperature flattens toward uniform
    ties = torch.tensor([[1.0, 2.0, 2.0, 0.0]])
    assert kept(top_k_filter(ties, 1)) == [False, True, True, False]  # ties with the k-th stay


def test_gpt_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="n_embd"):
        GPTConfig(vocab_size=10, n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="vocab_size"):
        GPTConfig(vocab_size=0)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(vocab_size=10, dropout=1.5)
    model = tiny_gpt()
    with pytest.raises(ValueError, match="idx.*unknown token id 37"):
        model(torch.tensor([[1, 37]]))
    with pytest.raises(TypeError, match="idx"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    long_prompt = torch.zeros(1, 20, dtype=torch.long)
    with pytest.raises(ValueError, match="idx.*truncate"):
        model.generate(long_prompt, 2)
    assert model.generate(long_prompt, 2, truncate=True, temperature=0).shape == (1, 22)
    for kwargs, name in [
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"temperature": -1.0}, "temperature"),
        ({"max_new_tokens": -1}, "max_new_tokens"),
    ]:
        with pytest.raises((ValueError, TypeError), match=name):
            model.generate(torch.zeros(1, 1, dtype=torch.long), **{"max_new_tokens": 2, **kwargs})


def test_checkpoint_round_trip(tmp_path):
    model = tiny_gpt(seed=5)
    model.save(tmp_path / "ckpt", step=7, extra={"note": "x"})
    again = GPT.load(tmp_path / "ckpt")
    assert again.config == model.config
    assert again.lm_head.weight is again.transformer.wte.weight  # still tied after loading
    idx = torch.randint(37, (2, 16))
    assert torch.equal(again.eval()(idx)[0], model(idx)[0])
    assert not list(tmp_path.glob("ckpt/*.pt")) and not list(tmp_path.glob("ckpt/*.pkl"))


# -- LoRA -------------------------------------------------------------------------------------


def test_lora_starts_as_identity_trains_only_adapters_and_merges_exactly():
    model = tiny_gpt(seed=6).double()
    idx = torch.randint(37, (2, 16))
    before, _ = model(idx)
    apply_lora(model, r=4, alpha=8)
    wrapped = [m for m in model.modules() if isinstance(m, LoRALinear)]
    assert len(wrapped) == 4 * 2  # four projections in each of two blocks
    assert torch.equal(model(idx)[0], before)  # B = 0: exactly the pre-trained model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert {id(p) for p in lora_parameters(model)} == {id(p) for p in model.parameters() if p.requires_grad}
    counts = model.parameter_counts()
    assert counts["trainable"] == counts["lora"] == 2 * 4 * (16 + 48 + 16 + 16 + 16 + 64 + 64 + 16)
    # one optimiser step moves only the adapters
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt = torch.optim.SGD(lora_parameters(model), lr=0.1)
    for _ in range(2):  # B moves on the first step, so A gets a gradient on the second
        opt.zero_grad()
        model(idx, idx)[1].backward()
        opt.step()
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    adapted, _ = model(idx)
    assert (adapted - before).abs().max() > 1e-4
    merge_lora(model)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert (model(idx)[0] - adapted).abs().max().item() < 1e-10
    assert all(p.requires_grad for p in model.parameters())


def test_lora_bad_arguments():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="targets"):
        apply_lora(model, targets=("nothing",))
    with pytest.raises(ValueError, match="r must"):
        LoRALinear(torch.nn.Linear(4, 4), r=0)
    apply_lora(model)
    with pytest.raises(ValueError, match="merge"):
        model.save("/nonexistent/never-written")


# -- training ---------------------------------------------------------------------------------


def test_lr_schedule_and_batches():
    cfg = TrainConfig(steps=200, lr=1e-2, min_lr=1e-4, warmup_steps=20)
    assert lr_at(0, cfg) == pytest.approx(1e-2 / 20)
    assert lr_at(19, cfg) == pytest.approx(1e-2)
    assert lr_at(199, cfg) == pytest.approx(1e-4)
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(20, 199))
    ids = torch.arange(100)
    x, y = get_batch(ids, 8, 5, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8) and torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="min_lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)


def test_train_lowers_the_loss_and_evaluate_is_fixed():
    tok = CharTokenizer().train(CORPUS)
    ids = torch.tensor(tok.encode(CORPUS * 3))
    model = tiny_gpt(seed=0, vocab_size=tok.vocab_size)
    start = evaluate(model, ids)
    assert evaluate(model, ids, max_windows=4) == evaluate(model, ids, max_windows=4)
    result = train_gpt(
        model, ids, TrainConfig(steps=40, batch_size=8, lr=1e-2, warmup_steps=5), val_ids=ids, progress=False
    )
    assert len(result.history) == 40 and result.val_history.steps == [40]
    assert evaluate(model, ids) < start - 0.5
    assert result.tokens_per_second > 0


def test_cli_trains_writes_files_and_samples(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text(CORPUS * 6 + "naïve café 😀\n", encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "genai_lib.llm.train",
            "--text",
            str(text),
            "--steps",
            "3",
            "--n-layer",
            "1",
            "--n-head",
            "2",
            "--n-embd",
            "16",
            "--block-size",
            "16",
            "--batch-size",
            "4",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # tiny model: see one_thread
    assert proc.returncode == 0, proc.stderr
    assert "nats/char" in proc.stdout
    for name in ("model.safetensors", "config.json", "tokenizer.json", "metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3 and 0 < metrics["val_loss_nats_per_char"] < 10
    assert metrics["n_val_chars"] == len(text.read_text(encoding="utf-8")) - int(
        0.9 * len(text.read_text(encoding="utf-8"))
    )
    model, tok = load_model(out)
    assert model.config.n_embd == 16 and isinstance(tok, CharTokenizer)
    sample = complete(model, tok, "First", 12, temperature=0.0)
    assert isinstance(sample, str) and len(sample) > 0
    from genai_lib.llm import sample as sample_module

    printed = sample_module.main(["--ckpt", str(out), "--prompt", "All:", "--max-new-tokens", "5", "--device", "cpu"])
    assert len(printed) == 1


@pytest.mark.parametrize(
    "argv,name",
    [
        (["--steps", "3"], "--text"),
        (["--text", "{text}", "--steps", "0"], "--steps"),
        (["--text", "{text}", "--steps", "2", "--n-embd", "10", "--n-head", "3"], "--n-embd"),
        (["--text", "{text}", "--steps", "2", "--block-size", "100000"], "--block-size"),
        (["--text", "{missing}", "--steps", "2"], "--text"),
        (["--text", "{empty}", "--steps", "2"], "--text"),
        (["--text", "{text}", "--steps", "2", "--tokenizer", "bpe"], "--vocab-size"),
        (["--text", "{text}", "--steps", "2", "--device", "nonsense"], "--device"),
    ],
)
def test_cli_bad_arguments_name_the_argument(tmp_path, capsys, argv, name):
    (tmp_path / "t.txt").write_text(CORPUS, encoding="utf-8")
    (tmp_path / "e.txt").write_text("", encoding="utf-8")
    paths = {"text": tmp_path / "t.txt", "empty": tmp_path / "e.txt", "missing": tmp_path / "nope.txt"}
    argv = [a.format(**paths) for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(argv)
    assert exit_info.value.code == 2
    assert name in capsys.readouterr().err
