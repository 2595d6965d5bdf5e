"""genai_lib.llm — large language models, built and opened up on a laptop CPU.

One module per concept:

* :mod:`~genai_lib.llm.tokenizers` — :class:`CharTokenizer` and byte-level :class:`BPETokenizer`;
* :mod:`~genai_lib.llm.attention` — scaled dot-product :func:`attention`, :func:`causal_mask`,
  :class:`CausalSelfAttention`;
* :mod:`~genai_lib.llm.kv_cache` — :class:`KVCache` for fast generation;
* :mod:`~genai_lib.llm.decoding` — temperature, top-k and top-p (nucleus) sampling, and the cures for
  repetition (a repetition penalty, n-gram blocking);
* :mod:`~genai_lib.llm.model` — :class:`GPTConfig` and :class:`GPT` (``generate``, ``parameter_counts``,
  ``save``/``load``, and as methods the two modules below);
* :mod:`~genai_lib.llm.inspection` — :func:`attention_maps`, :func:`residual_stream`, :func:`logit_lens`:
  what a trained GPT computes inside;
* :mod:`~genai_lib.llm.positions` (sinusoidal and rotary positions), :mod:`~genai_lib.llm.norms` (RMSNorm),
  :mod:`~genai_lib.llm.swiglu` (the gated MLP), :mod:`~genai_lib.llm.rnn` (an LSTM baseline) and
  :mod:`~genai_lib.llm.scaling` (training FLOPs, a power-law fit): the pieces of "The architecture lab";
* :mod:`~genai_lib.llm.gpt2` — :func:`from_gpt2`, OpenAI's GPT-2 weights in the book's GPT;
* :mod:`~genai_lib.llm.lora` — LoRA adapters (Hu et al. 2021): :func:`apply_lora`, :func:`merge_lora`;
* :mod:`~genai_lib.llm.chat` — special tokens and the chat template: :class:`ChatTokenizer`,
  :func:`answer_mask`, :func:`add_token_rows`;
* :mod:`~genai_lib.llm.instruct` — instruction tuning: :func:`make_instructions` (a rule-checked data
  set), :func:`train_sft` (loss on the answers only), :func:`evaluate_instructions` (exact match);
* :mod:`~genai_lib.llm.preference` — preference optimisation: rule-labelled pairs (``make_pairs``), the DPO
  loss (``dpo_loss``, Rafailov et al. 2023) and its trainer (``DPOTrainer``), imported as a module;
* :mod:`~genai_lib.llm.train` — the pre-training recipe (:class:`GPTTrainer`, :func:`train_gpt`,
  :func:`evaluate`); :mod:`~genai_lib.llm.cli` — its command line, ``python -m genai_lib.llm.train``
  (alone or under ``torchrun``);
* :mod:`~genai_lib.llm.sample` — :func:`load_model`, :func:`complete` and
  ``python -m genai_lib.llm.sample``;
* :mod:`~genai_lib.llm.pretrained` — :func:`~genai_lib.llm.pretrained.load_pretrained`, the book's
  pre-trained Shakespeare GPT, shipped in the package (no download).

Importing performs no network I/O and changes no global state.
"""

from __future__ import annotations

from genai_lib._lazy import lazy_exports
from genai_lib.llm.attention import CausalSelfAttention, attention, causal_mask
from genai_lib.llm.chat import SPECIAL_TOKENS, ChatTokenizer, add_token_rows, answer_mask
from genai_lib.llm.decoding import (
    ban_repeated_ngrams,
    next_token_probs,
    repeated_ngram_fraction,
    repetition_penalty,
    sample_next_token,
    top_k_filter,
    top_p_filter,
)
from genai_lib.llm.gpt2 import from_gpt2
from genai_lib.llm.inspection import attention_maps, logit_lens, residual_stream
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
from genai_lib.llm.kv_cache import KVCache, LayerKVCache
from genai_lib.llm.lora import LoRALinear, TokenRows, adapt_token_rows, apply_lora, lora_parameters, merge_lora
from genai_lib.llm.model import GPT, MLP, Block, GPTConfig
from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer, token_spans

# The command-line modules are imported on first use, not here: `python -m genai_lib.llm.train`
# imports this package first, and a package that had already imported `train` would make Python
# run a second copy of the module (and warn about it).
_LAZY = {
    "TrainConfig": "train",
    "TrainResult": "train",
    "GPTTrainer": "train",
    "train_gpt": "train",
    "evaluate": "train",
    "get_batch": "train",
    "lr_at": "train",
    "make_optimizer": "train",
    "load_model": "sample",
    "complete": "sample",
}

__all__ = [
    "CharTokenizer",
    "BPETokenizer",
    "load_tokenizer",
    "token_spans",
    "attention",
    "causal_mask",
    "CausalSelfAttention",
    "KVCache",
    "LayerKVCache",
    "top_k_filter",
    "top_p_filter",
    "next_token_probs",
    "sample_next_token",
    "repetition_penalty",
    "ban_repeated_ngrams",
    "repeated_ngram_fraction",
    "GPTConfig",
    "MLP",
    "Block",
    "GPT",
    "attention_maps",
    "residual_stream",
    "logit_lens",
    "from_gpt2",
    "LoRALinear",
    "apply_lora",
    "merge_lora",
    "lora_parameters",
    "TokenRows",
    "adapt_token_rows",
    "SPECIAL_TOKENS",
    "ChatTokenizer",
    "answer_mask",
    "add_token_rows",
    "TASKS",
    "Example",
    "make_instructions",
    "sft_batch",
    "sft_loss",
    "SFTConfig",
    "train_sft",
    "answer",
    "evaluate_instructions",
    *_LAZY,
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
