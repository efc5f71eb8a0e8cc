"""Presets: names, overrides, and parameter counts equal to the published architectures.

Expected counts come from each architecture's formula, written here from the
papers, and are compared with the published figures:

- GPT-2 small: 124,439,808, the parameter count of Hugging Face's `gpt2`
  checkpoint (model card: "124M"; Radford et al. 2019 list it as "117M", a
  figure OpenAI later corrected to 124M). Tied input/output embeddings, no head bias.
- ViT-B/16 at 224 px, 1000 classes: 86,567,656, the count of timm's
  `vit_base_patch16_224` (Dosovitskiy et al. 2021, Table 1: "86M").
- Transformer base: Vaswani et al. 2017, Table 3: "65 x 10^6". Assumptions: a
  shared 37,000-token BPE vocabulary, one matrix for both embeddings and the
  pre-softmax projection (Section 3.4), no output bias, sinusoidal positions (no
  parameters), post-norm with no final LayerNorm. The formula gives 63,082,496,
  2.95% under 65M; the paper does not give its exact count, so the test accepts
  the published figure within 5% and pins the exact formula value.
"""

import pytest

from course_lib.models import GPT, from_preset, list_presets, preset_config


def block_params(d, ff, attentions=1, norms=2):
    """One Transformer block: attention projections (with biases), a 2-layer MLP, LayerNorms."""
    return attentions * 4 * (d * d + d) + (d * ff + ff) + (ff * d + d) + norms * 2 * d


def gpt_params(vocab_size, max_len, d_model, num_layers, ff_dim, tie_embeddings=False, **_):
    embeddings = vocab_size * d_model + max_len * d_model
    head = 0 if tie_embeddings else d_model * vocab_size + vocab_size
    return embeddings + num_layers * block_params(d_model, ff_dim) + 2 * d_model + head


def vit_params(image_size, patch_size, num_classes, d_model, num_layers, ff_dim, channels=3, **_):
    patches = (image_size // patch_size) ** 2
    embedding = patch_size**2 * channels * d_model + d_model + d_model + (patches + 1) * d_model
    head = d_model * num_classes + num_classes
    return embedding + num_layers * block_params(d_model, ff_dim) + 2 * d_model + head


def transformer_params(src_vocab, d_model, num_layers, ff_dim, **_):
    encoder = num_layers * block_params(d_model, ff_dim)
    decoder = num_layers * block_params(d_model, ff_dim, attentions=2, norms=3)
    return src_vocab * d_model + encoder + decoder  # one shared, tied embedding matrix


FORMULAS = {
    "gpt2_small": gpt_params,
    "vit_base_16": vit_params,
    "transformer_base": transformer_params,
}
PUBLISHED = {"gpt2_small": 124_439_808, "vit_base_16": 86_567_656}


def test_list_presets_names_every_size():
    """Are all six presets listed?"""
    assert list_presets() == sorted(
        ["gpt2_small", "vit_base_16", "transformer_base", "gpt_nano", "gpt_micro", "gpt_mini"]
    )


def test_unknown_preset_lists_the_valid_names():
    """Is an unknown name a ValueError that lists every valid preset?"""
    with pytest.raises(ValueError, match="gpt_nan") as err:
        from_preset("gpt_nan")
    assert all(name in str(err.value) for name in list_presets())


@pytest.mark.parametrize("name", ["gpt2_small", "vit_base_16"])
def test_preset_formula_equals_published_count(name):
    """Does the architecture formula on the preset's config give the published exact count?"""
    _, config = preset_config(name)
    assert FORMULAS[name](**config) == PUBLISHED[name]


def test_transformer_base_formula_is_the_papers_65m():
    """Is the formula count 63,082,496, within 5% of the paper's rounded 65M?"""
    _, config = preset_config("transformer_base")
    count = transformer_params(**config)
    assert count == 63_082_496
    assert abs(count - 65e6) / 65e6 < 0.05


@pytest.mark.parametrize(
    "name, sizes", [("gpt_nano", (3, 3, 48)), ("gpt_micro", (4, 4, 128)), ("gpt_mini", (6, 6, 192))]
)
def test_course_presets_build_with_overrides(name, sizes):
    """Do the course GPTs have their layers/heads/width, take overrides, and count as the formula?"""
    model = from_preset(name, vocab_size=65, max_len=64)
    assert isinstance(model, GPT) and model.built
    assert (model.num_layers, model.num_heads, model.d_model) == sizes
    assert (model.vocab_size, model.max_len, model.ff_dim) == (65, 64, 4 * sizes[2])
    assert model.count_params() == gpt_params(**model.get_config())
    _, defaults = preset_config(name)
    assert (defaults["vocab_size"], defaults["max_len"]) == (512, 256)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gpt2_small", "vit_base_16", "transformer_base"])
def test_built_preset_has_the_formula_count(name):
    """Does the built model (no forward pass) count exactly the formula's parameters?"""
    model = from_preset(name)
    _, config = preset_config(name)
    assert model.count_params() == FORMULAS[name](**config)
