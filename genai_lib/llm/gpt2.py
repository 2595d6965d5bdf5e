"""Loading OpenAI's GPT-2 (Radford et al. 2019) into the book's :class:`~genai_lib.llm.GPT`.

:class:`~genai_lib.llm.model.GPT` follows GPT-2's layout exactly, names included, so loading its
released weights is a copy: every tensor goes to the module of the same name. The one change is
that GPT-2 stores its linear maps as ``Conv1D`` with weight ``(in, out)``, the transpose of
``nn.Linear``'s. What this GPT cannot reproduce (another activation, MLP width, attention scaling,
LayerNorm epsilon, an untied output layer) is refused, not loaded approximately.
"""

from __future__ import annotations

from typing import Any

import torch

from genai_lib.llm.model import GPT, GPTConfig

__all__ = ["from_gpt2"]


def from_gpt2(model_or_name: Any, *, dropout: float = 0.0) -> GPT:
    """Return a GPT holding the weights of a ``transformers`` GPT-2 (Radford et al. 2019).

    Also :meth:`GPT.from_gpt2 <genai_lib.llm.GPT.from_gpt2>`.

    Args:
        model_or_name: a ``transformers.GPT2LMHeadModel``, or a model name such as ``"gpt2"``
            (loaded with ``from_pretrained``: needs ``transformers`` and the network, or
            the Hugging Face cache).
        dropout: the dropout of the returned model (GPT-2 trained with 0.1; 0 for inference).

    Raises:
        TypeError: if ``model_or_name`` is neither a GPT-2 model nor a name.
        ValueError: if it is a GPT-2 variant this GPT cannot reproduce, or lacks weights.
        ImportError: for a name, when ``transformers`` is not installed.
    """
    hf = model_or_name
    if isinstance(model_or_name, str):
        try:
            from transformers import GPT2LMHeadModel
        except ImportError as err:
            raise ImportError(
                f"from_gpt2({model_or_name!r}) needs the package 'transformers' "
                f"(pip install transformers) and the network or its cache"
            ) from err
        hf = GPT2LMHeadModel.from_pretrained(model_or_name)
    c = getattr(hf, "config", None)
    if c is None or getattr(c, "model_type", None) != "gpt2" or not hasattr(hf, "state_dict"):
        raise TypeError(
            f"model_or_name must be a transformers GPT2LMHeadModel or a model name, got {type(model_or_name).__name__}"
        )
    problems = []
    activation = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}.get(c.activation_function)
    if activation is None:
        problems.append(f"activation_function={c.activation_function!r} (the book's MLP uses GELU or its tanh form)")
    if c.n_inner not in (None, 4 * c.n_embd):
        problems.append(f"n_inner={c.n_inner} (the book's MLP is 4 x n_embd wide)")
    if getattr(c, "scale_attn_by_inverse_layer_idx", False) or not getattr(c, "scale_attn_weights", True):
        problems.append("non-standard attention scaling")
    if abs(c.layer_norm_epsilon - 1e-5) > 1e-12:
        problems.append(f"layer_norm_epsilon={c.layer_norm_epsilon} (the book's LayerNorm uses 1e-5)")
    if problems:
        raise ValueError("model_or_name is a GPT-2 variant this GPT cannot reproduce: " + "; ".join(problems))
    config = GPTConfig(
        vocab_size=c.vocab_size,
        block_size=c.n_positions,
        n_layer=c.n_layer,
        n_head=c.n_head,
        n_embd=c.n_embd,
        dropout=dropout,
        bias=True,
        activation=activation,
    )
    model = GPT(config)
    theirs = hf.state_dict()
    if "lm_head.weight" in theirs and not torch.equal(theirs["lm_head.weight"], theirs["transformer.wte.weight"]):
        raise ValueError("model_or_name has an output layer not tied to its token embedding; this GPT ties them")
    conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    ours = model.state_dict()
    missing = [k for k in ours if k != "lm_head.weight" and k not in theirs]
    if missing:
        raise ValueError(f"model_or_name lacks the weights {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    with torch.no_grad():
        for key, tensor in ours.items():
            if key == "lm_head.weight":
                continue  # tied: it is transformer.wte.weight
            w = theirs[key]
            tensor.copy_(w.t() if key.endswith(conv1d) else w)
    return model
