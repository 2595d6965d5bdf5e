"""Tests of instruction tuning: the chat template and special tokens (genai_lib.llm.chat), the answer mask,
the instruction data set builder, the SFT loss and loop (genai_lib.llm.instruct), and agreement with
Hugging Face `transformers` on the masked loss and on growing the vocabulary."""

from __future__ import annotations

import copy
import random

import pytest
import torch
import torch.nn.functional as F

from genai_lib.llm import GPT, CharTokenizer, GPTConfig
from genai_lib.llm.chat import SPECIAL_TOKENS, ChatTokenizer, add_token_rows, answer_mask
from genai_lib.llm.instruct import (
    TASKS,
    Example,
    SFTConfig,
    answer,
    evaluate_instructions,
    make_instructions,
    sft_batch,
    sft_loss,
    train_sft,
)

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n"
    "We are accounted poor citizens, the patricians good.\nWhat authority surfeits on would relieve us.\n"
)


@pytest.fixture(scope="module")
def chat() -> ChatTokenizer:
    return ChatTokenizer(CharTokenizer().train(TEXT))


def tiny_gpt(vocab: int, seed: int = 0, block: int = 64) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, n_embd=32))


# -- the chat template ------------------------------------------------------------------------


def test_special_ids_follow_the_base_vocabulary(chat):
    n = chat.base.vocab_size
    assert [chat.special_ids[s] for s in SPECIAL_TOKENS] == [n, n + 1, n + 2]
    assert chat.vocab_size == n + 3 and chat.base_vocab_size == n
    assert (chat.user_id, chat.assistant_id, chat.end_id) == (n, n + 1, n + 2)


def test_chat_template_round_trips(chat):
    ids = chat.encode_chat("Uppercase: speak me", "SPEAK ME")
    assert ids[0] == chat.user_id and ids[-1] == chat.end_id
    assert ids.count(chat.assistant_id) == 1
    assert chat.decode(ids) == "<|user|>Uppercase: speak me<|assistant|>SPEAK ME<|end|>"
    assert chat.decode_chat(ids) == ("Uppercase: speak me", "SPEAK ME")
    assert chat.decode_chat(chat.prompt_ids("Repeat: a b")) == ("Repeat: a b", "")
    assert chat.decode_chat([chat.user_id, *chat.encode("hi")]) == ("hi", None)
    with pytest.raises(ValueError, match="<\\|user\\|>"):
        chat.decode_chat(chat.encode("no marker"))


@pytest.mark.parametrize("seed", range(5))
def test_plain_text_never_produces_a_special_id(chat, seed):
    """Text that spells the markers (or anything else, unseen characters included) stays ordinary tokens."""
    rng = random.Random(seed)
    alphabet = list("abc <|>end") + ["é", "—", "\n"]
    pieces = [rng.choice([*SPECIAL_TOKENS, "".join(rng.choices(alphabet, k=rng.randint(0, 6)))]) for _ in range(8)]
    text = "".join(pieces)
    ids = chat.encode(text)
    assert not any(chat.is_special(i) for i in ids)
    assert chat.decode(ids) == text  # and it reads back as the same characters
    assert chat.encode_chat(text, text).count(chat.end_id) == 1


def test_answer_text_stops_at_the_first_special_token(chat):
    gen = [*chat.encode("ab"), chat.end_id, *chat.encode("junk")]
    assert chat.answer_text(gen) == "ab"
    assert chat.answer_text(chat.encode("no end")) == "no end"
    assert chat.answer_text([chat.user_id]) == ""


def test_chat_tokenizer_rejects_bad_arguments(chat):
    with pytest.raises(TypeError, match="base"):
        ChatTokenizer("abc")
    with pytest.raises(ValueError, match="<\\|end\\|>"):
        ChatTokenizer(chat.base, special=("<|user|>", "<|assistant|>"))
    with pytest.raises(ValueError, match="repeat"):
        ChatTokenizer(chat.base, special=(*SPECIAL_TOKENS, "<|user|>"))
    with pytest.raises(ValueError, match="unknown token id"):
        chat.decode([chat.vocab_size])


# -- the answer mask --------------------------------------------------------------------------


def test_answer_mask_marks_the_answer_and_its_end(chat):
    instruction, reply = "Repeat: me", "me"
    ids = chat.encode_chat(instruction, reply)
    mask = answer_mask(ids, chat)
    assert mask.dtype == torch.bool and mask.shape == (len(ids) - 1,)
    targets = torch.tensor(ids[1:])
    # exactly the answer's characters and the closing <|end|> are targets
    assert targets[mask].tolist() == [*chat.encode(reply), chat.end_id]
    assert mask.sum().item() == len(reply) + 1
    # the instruction and <|assistant|> are not: the first True is the first answer token
    assert not mask[: len(instruction) + 1].any() and mask[len(instruction) + 1 :].all()


def test_answer_mask_ignores_padding_and_handles_two_turns(chat):
    one = chat.encode_chat("Repeat: a", "a")
    padded = one + [chat.end_id] * 4
    assert answer_mask(padded, chat).tolist() == answer_mask(one, chat).tolist() + [False] * 4
    two = one + chat.encode_chat("Repeat: b", "b")
    mask = answer_mask(two, chat).tolist()
    targets = two[1:]
    assert [t for t, m in zip(targets, mask) if m] == [*chat.encode("a"), chat.end_id, *chat.encode("b"), chat.end_id]
    with pytest.raises(ValueError, match="at least 2"):
        answer_mask([chat.user_id], chat)
    with pytest.raises(TypeError, match="ChatTokenizer"):
        answer_mask(one, chat.base)


# -- growing the vocabulary -------------------------------------------------------------------


def test_add_token_rows_keeps_every_old_row_and_logit():
    model = tiny_gpt(40)
    new = add_token_rows(model, 3)
    assert new.config.vocab_size == 43 and new is not model
    old_w, new_w = model.lm_head.weight, new.lm_head.weight
    assert torch.equal(new_w[:40], old_w)
    assert new.transformer.wte.weight is new.lm_head.weight  # still tied
    torch.testing.assert_close(new_w[40:], old_w.mean(0).expand(3, -1), rtol=0, atol=0)
    for name, p in model.state_dict().items():
        if name not in ("transformer.wte.weight", "lm_head.weight"):
            assert torch.equal(new.state_dict()[name], p), name
    idx = torch.randint(40, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(new(idx)[0][..., :40], model(idx)[0])
    # mean init: each new token's logit is the average of the old logits, at every position
    with torch.no_grad():
        logits = new(idx)[0]
    torch.testing.assert_close(logits[..., 40], logits[..., :40].mean(-1), rtol=1e-5, atol=1e-5)
    normal = add_token_rows(model, 2, init="normal", generator=torch.Generator().manual_seed(0))
    assert torch.equal(normal.lm_head.weight[:40], old_w) and normal.lm_head.weight[40:].std() < 0.05


def test_add_token_rows_rejects_bad_arguments():
    model = tiny_gpt(20)
    with pytest.raises(ValueError, match="n_new"):
        add_token_rows(model, 0)
    with pytest.raises(ValueError, match="init"):
        add_token_rows(model, 1, init="zeros")
    with pytest.raises(TypeError, match="model"):
        add_token_rows(torch.nn.Linear(2, 2), 1)


# -- the data set -----------------------------------------------------------------------------


def test_make_instructions_is_deterministic_and_rule_checked():
    a = make_instructions(TEXT, 40, seed=3)
    assert a == make_instructions(TEXT, 40, seed=3)
    assert a != make_instructions(TEXT, 40, seed=4)
    assert [ex.task for ex in a[: len(TASKS)]] == list(TASKS)  # tasks in turn
    for ex in a:
        prefix, rule = TASKS[ex.task]
        assert ex.instruction.startswith(prefix)
        words = ex.instruction[len(prefix) :].split(" ")
        assert 2 <= len(words) <= 4 and all(w.isalpha() and w.islower() for w in words)
        assert len(" ".join(words)) <= 20
        assert ex.answer == rule(words)
    up = [ex for ex in a if ex.task == "uppercase"][0]
    assert up.answer == up.instruction[len("Uppercase: ") :].upper()
    only = make_instructions(TEXT, 6, seed=0, tasks=["first word"])
    assert all(ex.answer == ex.instruction.split(" ")[2] for ex in only)


def test_make_instructions_rejects_bad_arguments():
    with pytest.raises(ValueError, match="tasks"):
        make_instructions(TEXT, 5, tasks=["translate"])
    with pytest.raises(ValueError, match="n"):
        make_instructions(TEXT, 0)
    with pytest.raises(ValueError, match="fragment"):
        make_instructions("Hi.\nOk!\n", 5)
    with pytest.raises(TypeError, match="text"):
        make_instructions(None, 5)


# -- batches, the loss and the loop -----------------------------------------------------------


def test_sft_batch_pads_and_masks(chat):
    exs = [Example("repeat", "Repeat: a b", "a b"), Example("first word", "First word: you are all", "you")]
    x, y, mask = sft_batch(exs, chat, block_size=64)
    lengths = [len(chat.encode_chat(e.instruction, e.answer)) for e in exs]
    assert x.shape == y.shape == mask.shape == (2, max(lengths) - 1)
    for b, ex in enumerate(exs):
        ids = chat.encode_chat(ex.instruction, ex.answer)
        assert x[b, : len(ids) - 1].tolist() == ids[:-1] and y[b, : len(ids) - 1].tolist() == ids[1:]
        assert (y[b, len(ids) - 1 :] == -1).all() and not mask[b, len(ids) - 1 :].any()
        assert chat.decode(y[b][mask[b]].tolist()) == ex.answer + "<|end|>"
    with pytest.raises(ValueError, match="block_size"):
        sft_batch(exs, chat, block_size=10)


def test_sft_loss_is_the_mean_over_answer_tokens(chat):
    exs = make_instructions(TEXT, 6, seed=0)
    x, y, mask = sft_batch(exs, chat, block_size=64)
    logits = torch.randn(*x.shape, chat.vocab_size, generator=torch.Generator().manual_seed(0))
    logp = F.log_softmax(logits, dim=-1)
    direct_answer = torch.stack([-logp[b, t, y[b, t]] for b, t in mask.nonzero().tolist()]).mean()
    direct_all = torch.stack([-logp[b, t, y[b, t]] for b, t in (y >= 0).nonzero().tolist()]).mean()
    torch.testing.assert_close(sft_loss(logits, y, mask), direct_answer)
    torch.testing.assert_close(sft_loss(logits, y), direct_all)
    # masked positions get no gradient: the instruction is read, not learned
    logits.requires_grad_(True)
    sft_loss(logits, y, mask).backward()
    assert (logits.grad[~mask] == 0).all() and (logits.grad[mask].abs().sum(-1) > 0).all()


def test_train_sft_learns_a_task_and_records_both_losses(chat):
    model = add_token_rows(tiny_gpt(chat.base.vocab_size), len(chat.special))
    train = make_instructions(TEXT, 200, seed=0, tasks=["first word"])
    seen = []
    history = train_sft(
        model, chat, train, SFTConfig(steps=60, batch_size=16, lr=3e-3), callback=lambda s, m: seen.append(s)
    )
    assert seen == list(range(61)) and len(history["answer_loss"]) == len(history["all_loss"]) == 60
    first, last = sum(history["answer_loss"][:5]) / 5, sum(history["answer_loss"][-5:]) / 5
    assert last < 0.6 * first, (first, last)
    with pytest.raises(ValueError, match="add the special tokens"):
        train_sft(tiny_gpt(chat.base.vocab_size), chat, train, SFTConfig(steps=1))
    with pytest.raises(ValueError, match="lr"):
        SFTConfig(lr=0)


def test_answer_and_evaluate_use_greedy_decoding(chat):
    model = add_token_rows(tiny_gpt(chat.base.vocab_size), len(chat.special)).eval()
    exs = make_instructions(TEXT, 8, seed=1)
    got = answer(model, chat, [e.instruction for e in exs], max_new_tokens=6)
    assert got == answer(model, chat, [e.instruction for e in exs], max_new_tokens=6)  # deterministic
    # one at a time gives the same answers as batched by length
    assert got == [answer(model, chat, [e.instruction], max_new_tokens=6)[0] for e in exs]
    # a model that always writes the right answer scores 1; the untrained one scores (almost surely) 0
    scores = evaluate_instructions(model, chat, exs, max_new_tokens=6)
    assert set(scores) == {*(e.task for e in exs), "all"} and scores["all"] == 0.0
    with pytest.raises(TypeError, match="instructions"):
        answer(model, chat, "Repeat: a")


# -- agreement with transformers --------------------------------------------------------------


def test_masked_loss_and_resizing_agree_with_transformers(chat):
    """HF's GPT-2 with labels -100 outside the answer computes our sft_loss; its resize_token_embeddings
    keeps the same old rows (and so the same old-token logits) as add_token_rows."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            vocab_size=chat.base.vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=None
        )
    ).eval()
    ours = add_token_rows(GPT.from_gpt2(copy.deepcopy(hf)).eval(), 3)
    hf.resize_token_embeddings(chat.vocab_size, mean_resizing=False)
    with torch.no_grad():
        hf.transformer.wte.weight[-3:] = ours.transformer.wte.weight[-3:]  # HF draws its new rows at random
    exs = make_instructions(TEXT, 5, seed=2)
    ids = torch.tensor([chat.encode_chat(exs[0].instruction, exs[0].answer)])
    mask = answer_mask(ids[0], chat)
    labels = ids.clone()
    labels[0, 1:][~mask] = -100  # HF shifts labels itself: label t is the target of position t - 1
    labels[0, 0] = -100
    with torch.no_grad():
        theirs = hf(ids, labels=labels)
        logits, _ = ours(ids[:, :-1])
        mine = sft_loss(logits, ids[:, 1:], mask[None])
    torch.testing.assert_close(mine, theirs.loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits, theirs.logits[:, :-1], rtol=1e-4, atol=1e-4)
