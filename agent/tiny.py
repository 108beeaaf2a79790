"""Tiny prompt models: the real transformers classes (Qwen3-VL, Qwen3) at toy size with seeded random
weights, and a byte-level BPE tokenizer, an image processor and a chat template built in code.

Built in about a second with no files and no network. Tests use them, and
`PROMPT_AGENT_LOCAL_MODEL=tiny` (or `tiny-text`) lets a person try the local backend's plumbing
(download-free loading, streaming, the status line) without the 4 GB model: the answers are a
salad of random words and bytes. Imported only by agent/local.py, lazily.
"""

from __future__ import annotations

SEED = 0
NAMES = ("tiny", "tiny-text")  # PROMPT_AGENT_LOCAL_MODEL values that build a model here

# Qwen's chat markers and vision placeholders, as the real tokenizers spell them.
SPECIAL_TOKENS = (
    "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
)
# Added but not special, as in Qwen3: they survive decoding, so the agent's cleaning sees them.
THINK_TOKENS = ("<think>", "</think>")
EOS_TOKEN = "<|im_end|>"

# Whole-word tokens (after the byte alphabet; each also capitalised and after a space) so English
# text tokenizes into words, as with a real vocabulary; anything else (Chinese, rare words) falls
# back to single bytes. Punctuation runs as the pre-tokenizer cuts them (" “", ".”", "```\n").
PUNCTUATION = (".", ",", ":", "!", "?", ";", "'", "'s", "-", '"', ' "', '."', "“", " “", "”", ".”", "```",
               "```\n", "\n", "\n\n", "，", "。")
# A few Chinese phrases as whole tokens, as the pre-tokenizer cuts them (a run of Chinese
# characters, with the punctuation mark before it), so a Chinese answer can be short too.
PHRASES = ("一个小男孩在喝咖啡", "，镜头缓缓推近", "小男孩喝咖啡")
WORDS = (
    "a an the of and in on with at to from by is are as it its his her their while slowly gently "
    "camera pans pushes tracks glides close up wide shot medium light sunlight golden hour soft warm "
    "cool blue red green white black yellow night day morning evening sky sea water river lake "
    "mountain forest city street rain snow wind cat dog bird boy girl man woman child old young "
    "little small walks runs sits smiles looks holds sips drinks cup coffee tea cafe table window "
    "park bench flower tree field boat drifts waves sweater steam rises mood calm cozy quiet "
    "cinematic detailed realistic film photo video motion bright dark shadow reflection sunset "
    "sunrise cloud clouds grass road train prompt here sure plan think shot frame first picture "
    "family photograph smile blink breeze hair fabric nostalgic tender scene turn user idea into one "
    "english drinking"
).split()

# ChatML as Qwen's templates write it: system, user (pictures first, as <|vision_start|>...), then
# the assistant's turn. `enable_thinking=false` closes an empty reasoning block, as Qwen3 does.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- else %}{%- for item in message['content'] %}"
    "{%- if item['type'] == 'image' or 'image' in item %}{{- '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif item['type'] == 'text' %}{{- item['text'] }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n</think>\n\n' }}{%- endif %}"
    "{%- endif %}"
)


def build_tokenizer():
    """A Qwen2 byte-level BPE tokenizer: 256 byte symbols, merges that spell WORDS, Qwen's markers."""
    from tokenizers import pre_tokenizers
    from tokenizers.models import BPE
    from transformers import Qwen2Tokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    for word in WORDS:
        for spelled in (word, word.capitalize()):
            for piece in (spelled, "Ġ" + spelled):  # "Ġ" is the byte-level symbol for a leading space
                vocab.setdefault(piece, len(vocab))
    to_symbols = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    for mark in (*PUNCTUATION, *PHRASES):
        [(symbols, _span)] = to_symbols.pre_tokenize_str(mark)
        vocab.setdefault(symbols, len(vocab))
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], unk_token=None)
    # No merges: a word in the vocabulary is taken whole (ignore_merges, as Llama 3's tokenizer
    # does); any other word falls back to its bytes. Merges that spell each word would collide
    # between words ("of" inside "coffee").
    tokenizer.backend_tokenizer.model = BPE(vocab=vocab, merges=[], ignore_merges=True, fuse_unk=False,
                                            byte_fallback=False)
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    tokenizer.add_tokens(list(THINK_TOKENS))
    tokenizer.eos_token = EOS_TOKEN
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer=None):
    """Qwen3-VL's processor with Qwen3-VL-2B's image settings (16 px patches merged 2×2, mean and
    std 0.5), built from arguments instead of a preprocessor_config.json."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    tokenizer = tokenizer or build_tokenizer()
    vision = dict(patch_size=16, merge_size=2, temporal_patch_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**vision),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(**vision),
        chat_template=CHAT_TEMPLATE,
    )


def _text_config(tokenizer) -> dict:
    # hidden_size 64 (4 heads of 16): tests script replies of up to 63 tokens into it (see
    # tests/local_models.py). mrope_section splits head_dim / 2 = 8 rotary pairs over (t, h, w).
    return dict(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=8192,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.convert_tokens_to_ids(EOS_TOKEN),
    )


def build_vision_model():
    """(model, processor): a Qwen3VLForConditionalGeneration with two text and two vision layers."""
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    processor = build_processor()
    tokenizer = processor.tokenizer
    text = _text_config(tokenizer)
    text["rope_parameters"] = {
        "rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 2, 2], "mrope_interleaved": True,
    }
    config = Qwen3VLConfig(
        text_config=text,
        # Patch and merge sizes must match the processor's: a 64×96 picture -> 4×6 patches -> 6 tokens.
        vision_config=dict(
            depth=2, hidden_size=32, intermediate_size=32, out_hidden_size=64, num_heads=4, patch_size=16,
            spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=16, deepstack_visual_indexes=[0, 1],
        ),
        image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
        tie_word_embeddings=False,
    )
    torch.manual_seed(SEED)
    model = Qwen3VLForConditionalGeneration(config).eval()
    _generation_defaults(model, tokenizer)
    return model, processor


def build_text_model():
    """(model, tokenizer): a text-only Qwen3ForCausalLM, the shape of Qwen/Qwen3-1.7B at toy size."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = build_tokenizer()
    torch.manual_seed(SEED + 1)
    model = Qwen3ForCausalLM(Qwen3Config(**_text_config(tokenizer), tie_word_embeddings=False)).eval()
    _generation_defaults(model, tokenizer)
    return model, tokenizer


def build(name: str):
    """(model, processor or tokenizer) for a name in NAMES."""
    return build_text_model() if name == "tiny-text" else build_vision_model()


def _generation_defaults(model, tokenizer) -> None:
    eos = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = tokenizer.pad_token_id
