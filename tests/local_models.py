"""The tiny prompt models (agent/tiny.py) made to say a chosen reply, for tests of the local backend.

`teach` writes a chain into a tiny model's random weights: each token of the reply leads to the
next, the last one to the end-of-turn token (or, with `loop=True`, back to the first: a model that
never stops). The model is the real transformers class and runs the real `generate`, chat template,
streamer and tokenizer; only its answer is known in advance.

How: with every attention output projection and MLP down projection zeroed, each layer adds
nothing, so the last hidden state is the current token's embedding. Token k of the chain gets the
one-hot embedding e_k; the final RMSNorm makes it 8·e_k (hidden size 64); the output row of its
successor has 10 at k. Logit 80 for the successor, 0 for every other token: the reply comes out
exactly, even when sampling at temperature 1.
"""

from __future__ import annotations

import torch

LOGIT = 10.0


def teach(model, tokenizer, reply: str, *, loop: bool = False) -> list[int]:
    """Make `model` answer `reply` after any prompt; returns the reply's token ids."""
    reply_ids = tokenizer(reply, add_special_tokens=False).input_ids
    # Every prompt here ends with the template's "\n\n" (after Qwen3's empty reasoning block).
    start = tokenizer.convert_tokens_to_ids("ĊĊ")
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    chain = [start, *reply_ids]
    if len(set(chain)) != len(chain):
        pieces = tokenizer.convert_ids_to_tokens(chain)
        repeated = sorted({p for p in pieces if pieces.count(p) > 1})
        raise ValueError(f"a taught reply needs each token once (and no blank line); repeated: {repeated}")
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    if len(chain) > embed.shape[1]:
        raise ValueError(f"a reply of {len(chain)} tokens does not fit a hidden size of {embed.shape[1]}")
    with torch.no_grad():
        for name, module in model.named_modules():
            # The language model's layers only (the vision tower's are named attn.proj, linear_fc2).
            if name.endswith(("self_attn.o_proj", "mlp.down_proj")):
                module.weight.zero_()
        head.zero_()
        for k, token in enumerate(chain):
            embed[token] = 0.0
            embed[token, k] = 1.0
            following = chain[k + 1] if k + 1 < len(chain) else (chain[1] if loop else end)
            head[following, k] = LOGIT
    return reply_ids
