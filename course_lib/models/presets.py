"""Named model sizes: the published architectures and the course's small GPTs.

`from_preset(name, **overrides)` returns a built model (weights are freshly
initialised: nothing is downloaded). Parameter counts of the published sizes:

| preset | architecture | parameters |
|---|---|---|
| `gpt2_small` | GPT-2 124M (Radford et al. 2019; Hugging Face `gpt2`) | 124,439,808 |
| `vit_base_16` | ViT-B/16 at 224 px (Dosovitskiy et al. 2021; timm `vit_base_patch16_224`) | 86,567,656 |
| `transformer_base` | Transformer base (Vaswani et al. 2017, Table 3: "65M") | 63,082,496 |

`transformer_base` follows the paper: a shared 37,000-token BPE vocabulary,
one embedding matrix for source, target and the pre-softmax projection (no
output bias), sinusoidal positions, post-norm blocks. Its exact count is 3%
under the paper's rounded 65M (see tests/models/test_presets.py).

The course sizes (`gpt_nano`, `gpt_micro`, `gpt_mini`, after minGPT) default to
`vocab_size=512` and `max_len=256`; override them for your tokenizer and data.
"""

from .gpt import GPT
from .seq2seq import Seq2SeqTransformer
from .vit import ViTClassifier

COURSE_VOCAB_SIZE = 512
COURSE_MAX_LEN = 256


def _course_gpt(num_layers, num_heads, d_model):
    return dict(
        vocab_size=COURSE_VOCAB_SIZE,
        max_len=COURSE_MAX_LEN,
        d_model=d_model,
        num_heads=num_heads,
        num_layers=num_layers,
        ff_dim=4 * d_model,
        dropout=0.1,
    )


PRESETS = {
    "gpt_nano": (GPT, _course_gpt(3, 3, 48)),
    "gpt_micro": (GPT, _course_gpt(4, 4, 128)),
    "gpt_mini": (GPT, _course_gpt(6, 6, 192)),
    "gpt2_small": (
        GPT,
        dict(
            vocab_size=50257,
            max_len=1024,
            d_model=768,
            num_heads=12,
            num_layers=12,
            ff_dim=3072,
            dropout=0.1,
            tie_embeddings=True,
            activation="gelu",
            layer_norm_epsilon=1e-5,
        ),
    ),
    "vit_base_16": (
        ViTClassifier,
        dict(
            image_size=224,
            patch_size=16,
            num_classes=1000,
            d_model=768,
            num_heads=12,
            num_layers=12,
            ff_dim=3072,
            dropout=0.0,
            layer_norm_epsilon=1e-6,
        ),
    ),
    "transformer_base": (
        Seq2SeqTransformer,
        dict(
            src_vocab=37000,
            tgt_vocab=37000,
            max_len=256,
            d_model=512,
            num_heads=8,
            num_layers=6,
            ff_dim=2048,
            dropout=0.1,
            share_embeddings=True,
            tie_embeddings=True,
            position_encoding="sinusoidal",
        ),
    ),
}


def list_presets():
    """Returns the preset names, sorted."""
    return sorted(PRESETS)


def preset_config(name):
    """Returns `(model_class, config dict)` of a preset (a copy, safe to edit)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Valid presets: {', '.join(list_presets())}")
    cls, config = PRESETS[name]
    return cls, dict(config)


def from_preset(name, **overrides):
    """Returns a built model of the named size with fresh weights.

    Args:
        name: one of `list_presets()`.
        **overrides: constructor arguments that replace the preset's, e.g.
            `vocab_size=` and `max_len=` for the course GPTs; for a ViT,
            `channels=` (default 3) sets the input channels it is built for.

    Example:
    >>> model = from_preset("gpt_nano", vocab_size=65, max_len=128)
    >>> model.count_params()
    """
    cls, config = preset_config(name)
    channels = overrides.pop("channels", 3)  # ViT input channels, only used to build
    config.update(overrides)
    model = cls(**config, name=name)
    if cls is GPT:
        model.build((None, model.max_len))
    elif cls is ViTClassifier:
        model.build((None, model.image_size, model.image_size, channels))
    else:
        model.build(((None, model.max_len), (None, model.max_len)))
    return model
