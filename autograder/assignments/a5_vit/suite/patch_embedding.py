"""The a5_vit "patch_embedding" group: PatchEmbedding with the reference extract_patches."""

from autograder.assignments.a5_vit.suite import hints as variants
from autograder.assignments.a5_vit.suite.helpers import (
    SUPPORT,
    assign_calls,
    normal,
    set_reference,
    weights_copied,
)
from autograder.grading.calls import arr, call, construct, in_graph
from autograder.grading.checks import all_of, close, gated, in_graph_close
from autograder.grading.compare import failed, passed
from autograder.grading.plan import Check, Group, clean_traceback
from autograder.grading.weights import (
    add_weights,
    dense_weights,
    to_np,
)
from course_lib.layers import PatchEmbedding, extract_patches


def patch_group(rng, expected):
    inputs, calls, checks = {}, [], []
    cases = (
        ("pe_a", "B=3, 8x8x1 images, P=2, d_model=16", (3, 8, 8, 1), 2, 16, 2.0),
        ("pe_b", "B=2, 4x6x3 images (H != W), P=2, d_model=12", (2, 4, 6, 3), 2, 12, 2.0),
    )
    for object_id, label, shape, p, d, weight in cases:
        b, h, w, c = shape
        n = (h // p) * (w // p)
        images = normal(rng, *shape)
        kernel, bias = dense_weights(rng, p * p * c, d)
        variables = {
            "cls_token": normal(rng, 1, 1, d),
            "position_embedding": normal(rng, 1, n + 1, d),
        }
        inputs[f"{object_id}_x"] = images
        names = add_weights(inputs, object_id, {"projection": (kernel, bias)})
        kwargs = {"patch_size": p, "d_model": d, "num_patches": n}
        calls.append(construct(object_id, "PatchEmbedding", kwargs, [arr(f"{object_id}_x")], names))
        assigns = assign_calls(object_id, object_id, variables, inputs)
        calls += assigns
        calls.append(call(f"{object_id}0", object_id, arr(f"{object_id}_x")))

        layer = PatchEmbedding(**kwargs)
        layer(images)
        set_reference(layer, {"projection": (kernel, bias)}, variables)
        want = to_np(layer(images))
        patches = to_np(extract_patches(images, p))
        hints = variants.patch_embedding_hints(patches, kernel, bias, *variables.values())
        expected[f"{object_id}0"] = (want, hints)
        checks.append(
            Check(
                f"PatchEmbedding: {label}",
                "PatchEmbedding",
                all_of(
                    weights_copied(object_id, [a["id"] for a in assigns], "your PatchEmbedding"),
                    close(f"{object_id}0", want, "the output (tokens)", hints),
                ),
                weight,
            )
        )

    # pe_b again inside a tf.function with an unknown batch size, as model.fit traces it.
    calls.append(in_graph(call("pe_graph", "pe_b", arr("pe_b_x"))))
    expected["pe_graph"] = expected["pe_b0"]
    checks.append(
        Check(
            "PatchEmbedding: inside a tf.function with an unknown batch size",
            "PatchEmbedding",
            in_graph_close(
                "pe_graph",
                expected["pe_b0"][0],
                "the tokens in a tf.function",
                expected["pe_b0"][1],
            ),
        )
    )
    # The weights' shapes, as the contract gives them (read back from the first layer): an
    # attribute any shell of a layer has, so it pays only when the tokens are right.
    core = checks[0].evaluate
    d, n = 16, 16
    shape_calls = {
        "cls_token": (1, 1, d),
        "position_embedding": (1, n + 1, d),
    }
    for path in shape_calls:
        calls.append(
            {"id": f"pe_shape_{path}", "kind": "attribute", "object": "pe_a", "path": path}
        )
    checks.append(
        Check(
            "PatchEmbedding: cls_token (1, 1, d_model) and position_embedding (1, N + 1, d_model)",
            "PatchEmbedding",
            gated(core, shapes_check(shape_calls), "the tokens (B=3, 8x8x1 images)"),
        )
    )
    group = Group(
        "patch_embedding",
        calls,
        inputs,
        site_modules=("layers/patches.py",),
        support=(SUPPORT,),
        inject={"extract_patches": "course_lib.layers.patches:extract_patches"},
    )
    return group, checks


def shapes_check(shapes):
    def evaluate(outcome):
        for path, want in shapes.items():
            key = f"pe_shape_{path}"
            if key not in outcome.arrays:
                error = outcome.error(key) or outcome.error("pe_a")
                detail = clean_traceback(error) if error else "no value came back"
                return failed(f"Could not read {path} of your layer: {detail}")
            got = tuple(outcome.arrays[key].shape)
            if got != want:
                return failed(
                    f"{path} has shape {got}; the contract's shape is {want} "
                    "(it broadcasts over the batch)."
                )
        return passed()

    return evaluate
