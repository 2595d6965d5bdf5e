"""The GPT: a decoder-only transformer language model (Radford et al. 2018, 2019), in one module.

Read top to bottom: :class:`GPTConfig` (every size in one place), :class:`MLP`, :class:`Block`
(pre-LayerNorm attention + MLP, each added to the residual stream) and :class:`GPT` (embeddings,
the blocks, the output layer, the loss, :meth:`GPT.generate` with a KV cache, and save/load). The
attention layer itself lives in :mod:`genai_lib.llm.attention`, the cache in
:mod:`genai_lib.llm.kv_cache`, the decoding rules (temperature, top-k, top-p) in
:mod:`genai_lib.llm.decoding`, the tools that look inside a trained model (attention maps, the
residual stream, the logit lens) in :mod:`genai_lib.llm.inspection`, and loading OpenAI's GPT-2
weights in :mod:`genai_lib.llm.gpt2`.

The layout follows GPT-2 exactly (names included), which is what lets :meth:`GPT.from_gpt2`
copy a ``transformers`` GPT-2's weights in and reproduce its logits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib._checks import check_bool, check_fields, check_float, check_int, check_token_ids
from genai_lib.llm import inspection
from genai_lib.llm.attention import CausalSelfAttention
from genai_lib.llm.decoding import ban_repeated_ngrams, check_repetition_args, check_sampling_args, sample_next_token
from genai_lib.llm.decoding import repetition_penalty as penalise_repeats
from genai_lib.llm.kv_cache import KVCache, LayerKVCache
from genai_lib.llm.norms import NORMS, make_norm
from genai_lib.llm.positions import POSITIONS, rope_angles, sinusoidal_positions
from genai_lib.llm.swiglu import SwiGLU
from genai_lib.training import load_checkpoint, save_checkpoint

__all__ = ["GPTConfig", "MLP", "Block", "GPT", "ACTIVATIONS"]

#: The MLP's non-linearities by name: ``torch.nn.GELU``'s ``approximate`` argument for each.
ACTIVATIONS = {"gelu": "none", "gelu_tanh": "tanh"}

#: The factor on the sinusoidal encodings (``positions="sinusoidal"``): the token embeddings' initial std.
SINUSOIDAL_SCALE = 0.02


@dataclass
class GPTConfig:
    """The sizes of a :class:`GPT`. The defaults are the book's CPU model (about 0.8 M parameters).

    Attributes:
        vocab_size: number of token ids (the tokenizer's ``vocab_size``).
        block_size: the context length, the most tokens the model sees at once.
        n_layer: number of transformer blocks.
        n_head: attention heads per block; must divide ``n_embd``.
        n_embd: width of the residual stream (embedding size).
        dropout: dropout probability in training (0 for small models on small budgets).
        bias: biases in the linear maps and LayerNorms (GPT-2 has them).
        activation: the MLP's non-linearity: ``"gelu"``, GELU itself (Hendrycks & Gimpel 2016),
            or ``"gelu_tanh"``, its tanh approximation, which GPT-2 used (``gelu_new``) and which
            GPT-2's weights and the book's shipped checkpoint need. The two curves differ by less
            than 1e-3; on CPUs torch computes the exact one about three times faster. ``"swiglu"``
            replaces the MLP by the gated :class:`~genai_lib.llm.swiglu.SwiGLU` (Shazeer 2020) of
            equal parameter count.
        positions: ``"learned"`` (GPT-2's table, at most ``block_size`` positions),
            ``"sinusoidal"`` (Vaswani et al. 2017) or ``"rope"`` (Su et al. 2021); see
            :mod:`genai_lib.llm.positions`. The fixed ones run on texts longer than ``block_size``.
        norm: ``"layernorm"`` (GPT-2's) or ``"rmsnorm"`` (Zhang & Sennrich 2019), for every norm.
        n_kv_head: key/value heads per block, grouped-query attention (Ainslie et al. 2023);
            None means ``n_head`` (multi-head attention).
        rope_base: the base of RoPE's frequencies (``positions="rope"`` only).
    """

    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    activation: str = "gelu"
    positions: str = "learned"
    norm: str = "layernorm"
    n_kv_head: int | None = None
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        size = lambda value, name: check_int(value, name, minimum=1)  # noqa: E731
        check_fields(
            self,
            {
                "vocab_size": size,
                "block_size": size,
                "n_layer": size,
                "n_head": size,
                "n_embd": size,
                "dropout": lambda v, n: check_float(v, n, minimum=0.0, maximum=1.0, strict_max=True),
                "bias": check_bool,
            },
        )
        if self.activation not in (*ACTIVATIONS, "swiglu"):
            raise ValueError(f"activation must be one of {[*sorted(ACTIVATIONS), 'swiglu']}, got {self.activation!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd must be divisible by n_head, got n_embd={self.n_embd}, n_head={self.n_head}")
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {self.positions!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.n_kv_head is not None:
            check_int(self.n_kv_head, "n_kv_head", minimum=1)
            if self.n_head % self.n_kv_head:
                raise ValueError(f"n_kv_head must divide n_head={self.n_head}, got {self.n_kv_head}")
        check_float(self.rope_base, "rope_base", minimum=1.0, strict_min=True)
        if self.positions in ("rope", "sinusoidal") and (self.n_embd // self.n_head) % 2:
            raise ValueError(f"positions={self.positions!r} needs an even head size, got {self.n_embd // self.n_head}")


class MLP(nn.Module):
    """The position-wise feed-forward network: widen 4×, GELU, project back.

    Attention moves information between positions; the MLP then transforms each position on its
    own, and holds most of the parameters. ``config.activation`` picks GELU or its tanh
    approximation, GPT-2's ``gelu_new``: using the same curve is what makes GPT-2's weights load
    exactly.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate=ACTIVATIONS[config.activation])
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, T, n_embd)`` to ``(B, T, n_embd)``, each position independently."""
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block, pre-LayerNorm: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``.

    Normalising the *input* of each sub-layer, not the sum (as the original transformer did),
    leaves the residual stream ``x`` an untouched sum of contributions, so gradients reach early
    layers unchanged and training is stable without a long warm-up (Xiong et al. 2020).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = make_norm(config.norm, config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(
            config.n_embd, config.n_head, dropout=config.dropout, bias=config.bias, n_kv_head=config.n_kv_head
        )
        self.ln_2 = make_norm(config.norm, config.n_embd, bias=config.bias)
        if config.activation == "swiglu":
            self.mlp = SwiGLU(config.n_embd, bias=config.bias, dropout=config.dropout)
        else:
            self.mlp = MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        cache: LayerKVCache | None = None,
        need_weights: bool = False,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the updated residual stream and the attention weights (None unless ``need_weights``);
        ``rope`` is the positions' rotary angles, passed to the attention."""
        a, weights = self.attn(self.ln_1(x), cache, need_weights, rope)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, weights


class GPT(nn.Module):
    """A GPT language model: token + position embeddings, ``n_layer`` blocks, a final LayerNorm
    and an output layer that shares its weight with the token embedding.

    ``forward(idx, targets)`` returns the next-token logits at every position and, given
    targets, their mean cross-entropy (nats per token).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        modules = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))  # token id -> vector
        if config.positions == "learned":  # position -> vector (learned, as in GPT-2)
            modules["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        modules.update(
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=make_norm(config.norm, config.n_embd, bias=config.bias),
        )
        self.transformer = nn.ModuleDict(modules)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying (Press & Wolf 2017): the output layer scores token j by the dot product of
        # the final hidden state with token j's own embedding. Tokens that are used alike get
        # alike vectors on both ends, and the model saves vocab_size x n_embd parameters.
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        # GPT-2's scaled init: every block adds two outputs (attention, MLP) to the residual
        # stream; shrinking those projections by 1/sqrt(2 n_layer) keeps the stream's variance
        # from growing with depth.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    # -- the forward pass ---------------------------------------------------------------------

    def _hidden(
        self,
        idx: torch.Tensor,
        cache: KVCache | None = None,
        need_weights: bool = False,
        stream: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Run the blocks; return the final hidden states ``(B, T, n_embd)`` and each layer's weights.

        With a list ``stream``, append to it the residual stream before the first block and after
        every block (what :func:`~genai_lib.llm.inspection.residual_stream` returns).
        """
        T, c = idx.size(1), self.config
        start = 0 if cache is None else len(cache)  # positions already in the cache come first
        # A learned table has no row past block_size; fixed positions run on longer texts (without
        # a cache), at positions the model never trained on: the chapter "The architecture lab".
        if start + T > c.block_size and (c.positions == "learned" or cache is not None):
            raise ValueError(
                f"idx has {T} tokens after {start} cached ones, more than block_size="
                f"{c.block_size}; crop the input to the last block_size tokens"
            )
        pos = torch.arange(start, start + T, device=idx.device)
        x, rope = self.transformer.wte(idx), None
        if c.positions == "learned":
            x = x + self.transformer.wpe(pos)
        elif c.positions == "sinusoidal":
            # Scaled to the token embeddings' initial std (0.02, GPT-2's init): unit-amplitude sinusoids
            # would drown the token identity. Vaswani et al. instead multiply the embeddings by sqrt(d).
            x = x + SINUSOIDAL_SCALE * sinusoidal_positions(T, c.n_embd, offset=start, device=idx.device).to(x.dtype)
        else:  # rope: nothing is added; queries and keys are rotated inside every attention layer
            rope = rope_angles(pos, c.n_embd // c.n_head, base=c.rope_base)
        x = self.transformer.drop(x)
        maps = []
        if stream is not None:
            stream.append(x)
        for i, block in enumerate(self.transformer.h):
            x, weights = block(x, None if cache is None else cache[i], need_weights, rope)
            maps.append(weights)
            if stream is not None:
                stream.append(x)
        return self.transformer.ln_f(x), maps

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(logits, loss)``: logits ``(B, T, vocab_size)`` for the token after each
        position; loss the mean cross-entropy against ``targets`` ``(B, T)`` (positions with
        target -1 are skipped), or None without targets."""
        idx = check_token_ids(idx, self.config.vocab_size)
        h, _ = self._hidden(idx)
        logits = self.lm_head(h)
        loss = None
        if targets is not None:
            if not isinstance(targets, torch.Tensor) or targets.shape != idx.shape:
                raise ValueError(
                    f"targets must be a tensor of the same shape as idx {tuple(idx.shape)}, "
                    f"got {tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__}"
                )
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1).long(), ignore_index=-1)
        return logits, loss

    # -- looking inside (genai_lib.llm.inspection) -----------------------------------------------

    def attention_maps(self, idx: torch.Tensor) -> torch.Tensor:
        """Every head's attention weights on ``idx``: :func:`genai_lib.llm.attention_maps`."""
        return inspection.attention_maps(self, idx)

    def residual_stream(self, idx: torch.Tensor) -> torch.Tensor:
        """The residual stream before and after every block: :func:`genai_lib.llm.residual_stream`."""
        return inspection.residual_stream(self, idx)

    def logit_lens(self, idx: torch.Tensor) -> torch.Tensor:
        """The logits read out after every block: :func:`genai_lib.llm.logit_lens`."""
        return inspection.logit_lens(self, idx)

    # -- generation -----------------------------------------------------------------------------

    def new_cache(self, batch_size: int) -> KVCache:
        """Return an empty :class:`KVCache` for ``batch_size`` sequences of up to ``block_size`` tokens."""
        c, p = self.config, self.lm_head.weight
        n_kv = c.n_head if c.n_kv_head is None else c.n_kv_head  # grouped-query attention caches fewer heads
        return KVCache(c.n_layer, batch_size, n_kv, c.block_size, c.n_embd // c.n_head, device=p.device, dtype=p.dtype)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        *,
        truncate: bool = False,
        repetition_penalty: float = 1.0,
        no_repeat_ngram_size: int | None = None,
    ) -> torch.Tensor:
        """Continue ``idx`` ``(B, T)`` by ``max_new_tokens`` tokens; return ``(B, T + max_new_tokens)``.

        Each step draws from :func:`~genai_lib.llm.decoding.next_token_probs` (``temperature=0``
        is greedy; ``top_k`` and ``top_p`` restrict the candidates). With ``use_cache`` the keys and
        values of earlier positions are kept in a :class:`KVCache`, so a step runs the model on
        one new token instead of the whole context. The model sees at most ``block_size`` tokens:
        once the text is longer, the context slides and the cache is refilled from the last
        ``block_size`` tokens at each step, because learned absolute positions make the cached
        keys wrong once every token's position shifts. Both paths compute the same
        distributions, so greedy decoding gives the same tokens with and without the cache.

        Args:
            idx: the prompt's token ids; at most ``block_size`` long unless ``truncate``.
            max_new_tokens: how many tokens to add (>= 0).
            temperature, top_k, top_p: see :mod:`genai_lib.llm.decoding`.
            use_cache: use the KV cache (same tokens, less work).
            generator: a ``torch.Generator`` on the model's device, for repeatable samples.
            truncate: keep only the prompt's last ``block_size`` tokens instead of raising.
            repetition_penalty: θ >= 1 applied to the logits of every token already in the text,
                prompt included (:func:`~genai_lib.llm.decoding.repetition_penalty`; 1 = off).
            no_repeat_ngram_size: forbid any token that would repeat an n-gram of this size
                already in the text (:func:`~genai_lib.llm.decoding.ban_repeated_ngrams`; None = off).
        """
        idx = check_token_ids(idx, self.config.vocab_size)
        max_new_tokens = check_int(max_new_tokens, "max_new_tokens", minimum=0)
        check_sampling_args(temperature, top_k, top_p)
        check_repetition_args(repetition_penalty, no_repeat_ngram_size)
        check_bool(use_cache, "use_cache")
        device = self.lm_head.weight.device
        if generator is not None:
            if not isinstance(generator, torch.Generator):
                raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
            if generator.device.type != device.type:
                raise ValueError(f"generator is on {generator.device}, the model on {device}; they must match")
        block = self.config.block_size
        if idx.size(1) > block and not truncate:
            raise ValueError(
                f"idx holds {idx.size(1)} tokens, more than block_size={block}; shorten the prompt "
                f"or pass truncate=True to keep its last {block} tokens"
            )
        out = idx.to(device)
        was_training = self.training
        self.eval()  # no dropout while sampling
        try:
            cache = self.new_cache(out.size(0)) if use_cache else None
            for _ in range(max_new_tokens):
                if cache is None:
                    h, _ = self._hidden(out[:, -block:])
                elif len(cache) == 0 or len(cache) == block:
                    cache.reset()  # the prompt, or a slid window: fill the cache from scratch
                    h, _ = self._hidden(out[:, -block:], cache)
                else:
                    h, _ = self._hidden(out[:, -1:], cache)  # only the newest token is new
                logits = self.lm_head(h[:, -1, :])  # only the last position predicts the next token
                if repetition_penalty != 1:  # the cures for repetition look at the whole text so far
                    logits = penalise_repeats(logits, out, repetition_penalty)
                if no_repeat_ngram_size is not None:
                    logits = ban_repeated_ngrams(logits, out, no_repeat_ngram_size)
                nxt = sample_next_token(logits, temperature, top_k, top_p, generator)
                out = torch.cat([out, nxt], dim=1)
        finally:
            self.train(was_training)
        return out

    # -- bookkeeping ----------------------------------------------------------------------------

    def parameter_counts(self) -> dict[str, int]:
        """Count parameters by component; shared (tied) tensors are counted once.

        Keys: ``token_embedding`` (also the output layer, tied), ``position_embedding``,
        ``attention``, ``mlp``, ``layer_norm``, ``lora`` (adapters, 0 without them), ``total``
        and ``trainable``.
        """
        counts = dict.fromkeys(["token_embedding", "position_embedding", "attention", "mlp", "layer_norm", "lora"], 0)
        trainable = 0
        for name, p in self.named_parameters():  # named_parameters yields a shared tensor once
            if "lora_" in name:
                key = "lora"
            elif ".attn." in name:
                key = "attention"
            elif ".mlp." in name:
                key = "mlp"
            elif "ln_" in name:
                key = "layer_norm"
            elif "wpe" in name:
                key = "position_embedding"
            else:  # wte, and lm_head if it were ever untied
                key = "token_embedding"
            counts[key] += p.numel()
            trainable += p.numel() if p.requires_grad else 0
        counts["total"] = sum(counts.values())
        counts["trainable"] = trainable
        return counts

    def num_params(self) -> int:
        """The number of parameters, tied ones counted once."""
        return self.parameter_counts()["total"]

    # -- checkpoints ------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike, *, step: int = 0, extra: dict | None = None) -> Path:
        """Save weights (safetensors) and :class:`GPTConfig` (``config.json``) to ``directory``.

        A model-only :func:`genai_lib.training.save_checkpoint`: ``model.safetensors`` and
        ``config.json``, no trainer state; ``extra`` is any JSON-serialisable dict kept beside the
        config. A model with LoRA adapters must be merged first
        (:func:`genai_lib.llm.lora.merge_lora`), so that the checkpoint is a plain GPT.
        """
        if any("lora_" in name for name, _ in self.named_parameters()):
            raise ValueError("this model holds LoRA adapters; merge them first (genai_lib.llm.merge_lora(model))")
        return save_checkpoint(directory, {"model": self}, step=step, config=self.config, extra=extra, model_only=True)

    @classmethod
    def load(cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> GPT:
        """Build a GPT from the config in ``directory`` and load the weights :meth:`save` wrote."""
        path = Path(directory) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"directory={str(directory)!r} holds no checkpoint (config.json is missing)")
        saved = json.loads(path.read_text())["config"]
        if not isinstance(saved, dict):
            raise ValueError(f"directory={str(directory)!r}: config.json holds no GPTConfig")
        known = {f.name for f in dataclasses.fields(GPTConfig)}
        # Checkpoints written before `activation` existed were all trained with GPT-2's tanh GELU.
        saved = {"activation": "gelu_tanh", **saved}
        model = cls(GPTConfig(**{k: v for k, v in saved.items() if k in known}))
        model.to(map_location)
        load_checkpoint(directory, {"model": model}, map_location=map_location, model_only=True)
        return model

    @classmethod
    def from_gpt2(cls, model_or_name: Any, *, dropout: float = 0.0) -> GPT:
        """Return a GPT holding the weights of a ``transformers`` GPT-2: :func:`genai_lib.llm.from_gpt2`."""
        from genai_lib.llm.gpt2 import from_gpt2  # gpt2 imports this module

        return from_gpt2(model_or_name, dropout=dropout)
