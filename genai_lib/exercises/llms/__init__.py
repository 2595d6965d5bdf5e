"""Checkers for the exercises of Part III, large language models (book/llms/), one module per chapter.

* :mod:`~genai_lib.exercises.llms.tokens` — chapter 1, text as tokens;
* :mod:`~genai_lib.exercises.llms.attention` — chapter 2, attention;
* :mod:`~genai_lib.exercises.llms.gpt` — chapter 3, the transformer and GPT;
* :mod:`~genai_lib.exercises.llms.pretraining` — chapter 4, pre-training;
* :mod:`~genai_lib.exercises.llms.decoding` — chapter 5, decoding;
* :mod:`~genai_lib.exercises.llms.finetuning` — chapter 6, fine-tuning;
* :mod:`~genai_lib.exercises.llms.instruct` — instruction tuning;
* :mod:`~genai_lib.exercises.llms.preference` — preference optimisation.

The chapters call them through this package (``from genai_lib.exercises import llms as ex``, then
``ex.check_perplexity(...)``). Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only
for a right answer; a wrong answer gets a hint, never the expected value. ``solution(name)`` prints the
answer and why, where ``name`` is the checker's name: ``solution("check_perplexity")``. Numbers are
accepted to 3 significant figures; counts (tokens, parameters, bytes, positions) must be exact.
"""

from genai_lib.exercises.llms._solutions import SOLUTIONS, solution
from genai_lib.exercises.llms.attention import (
    check_attention_parameters,
    check_causal_mask,
    check_mask_training,
    check_newline_head,
    check_temperature,
    check_unscaled_entropy,
)
from genai_lib.exercises.llms.decoding import (
    check_cache_valid,
    check_cold_sampling,
    check_kv_cache_bytes,
    check_nucleus_size,
    check_positions_processed,
    check_tempered_probability,
)
from genai_lib.exercises.llms.finetuning import (
    check_lora_break_even,
    check_lora_init,
    check_lora_merge,
    check_lora_parameters,
    check_zero_init,
)
from genai_lib.exercises.llms.gpt import (
    check_block_forward,
    check_gpt_parameters,
    check_no_positions,
    check_pre_ln,
    check_swap_positions,
    check_untied_extra,
)
from genai_lib.exercises.llms.instruct import (
    check_answer_targets,
    check_mean_init_logit,
    check_sft_loss,
    check_special_tokens,
)
from genai_lib.exercises.llms.preference import (
    check_best_of_n_kl,
    check_beta_effect,
    check_dpo_loss,
    check_optimal_policy,
)
from genai_lib.exercises.llms.pretraining import (
    check_initial_loss,
    check_loss_floor,
    check_low_lr,
    check_perplexity,
    check_tokens_seen,
)
from genai_lib.exercises.llms.tokens import (
    check_byte_count,
    check_compare_tokenizers,
    check_first_merge,
    check_nats_per_char,
    check_own_text,
    check_smallest_vocabulary,
)

_SOLUTIONS = SOLUTIONS  # the registry of every chapter's solutions, named as in the other parts

__all__ = [
    "check_byte_count",
    "check_first_merge",
    "check_smallest_vocabulary",
    "check_nats_per_char",
    "check_compare_tokenizers",
    "check_own_text",
    "check_causal_mask",
    "check_attention_parameters",
    "check_temperature",
    "check_newline_head",
    "check_unscaled_entropy",
    "check_mask_training",
    "check_gpt_parameters",
    "check_untied_extra",
    "check_block_forward",
    "check_swap_positions",
    "check_pre_ln",
    "check_no_positions",
    "check_perplexity",
    "check_initial_loss",
    "check_tokens_seen",
    "check_loss_floor",
    "check_low_lr",
    "check_nucleus_size",
    "check_tempered_probability",
    "check_kv_cache_bytes",
    "check_positions_processed",
    "check_cache_valid",
    "check_cold_sampling",
    "check_lora_parameters",
    "check_lora_break_even",
    "check_lora_merge",
    "check_lora_init",
    "check_zero_init",
    "check_answer_targets",
    "check_sft_loss",
    "check_special_tokens",
    "check_mean_init_logit",
    "check_dpo_loss",
    "check_optimal_policy",
    "check_beta_effect",
    "check_best_of_n_kl",
    "solution",
]
