"""A bundle's result, split back into one `JobResult` per finished phase.

A bundle (``protocol.write_bundle``) runs several jobs in one sandbox. Its results hold every
phase's calls; :func:`split_bundle` gives each finished phase its own result, as if it had run
alone, and names the phases to rerun alone: those the bundle did not finish (the one running
when it stopped, and the ones after it). A phase is finished only when the harness said so,
and the result is trusted no more than any other (a submission can only make its own phases
run again).
"""

import dataclasses

from autograder.sandbox import protocol


def _owned(key, ids):
    return any(key == i or key.startswith(i + ".") for i in ids)


def split_bundle(result, specs):
    """`({phase: JobResult}, [phases to rerun])` of a bundle's `result`.

    Args:
        result: the bundle's `JobResult` (`client.load_result`).
        specs: `{phase: job spec}` (`protocol.read_job` of `<bundle>/<phase>`), in run order.
    """
    from autograder.sandbox.client import out_of_memory

    said = result.errors.get(protocol.PHASES_KEY, "")
    done = set(said.split(",")) if isinstance(said, str) else set()
    finished, rerun, first = {}, [], True
    for name, spec in specs.items():
        if name not in done:
            rerun.append(name)
            continue
        ids = [c["id"] for c in spec["calls"]]
        arrays = {k: v for k, v in result.arrays.items() if _owned(k, ids)}
        errors = {k: v for k, v in result.errors.items() if _owned(k, ids)}
        if first:  # the bundle's own notes (__source__, __forbidden__...) go with one phase
            errors.update(
                {k: v for k, v in result.errors.items()
                 if k.startswith("__") and k != protocol.PHASES_KEY}
            )  # fmt: skip
        for call in spec["calls"]:
            produced = any(_owned(k, [call["id"]]) for k in arrays)
            if not produced and call["id"] not in errors and call.get("kind") != "construct":
                errors[call["id"]] = "not run: no result came back"
        finished[name] = dataclasses.replace(
            result,
            status="memory" if out_of_memory(errors.values()) else "ok",
            arrays=arrays,
            errors=errors,
            stdout=result.stdout if first else "",
            stderr=result.stderr if first else "",
            exit_detail="",
            wall_seconds=result.wall_seconds if first else 0.0,
        )
        first = False
    return finished, rerun
