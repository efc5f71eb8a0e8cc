"""What the a6_scaling groups share: the support file, construct calls, and result look-ups."""

from autograder.assignments.a6_scaling.support import measure as support
from autograder.grading.calls import construct
from autograder.grading.plan import Missing, clean_traceback
from autograder.grading.site import support_name

SUPPORT = (support.__file__,)
S = support_name(support.__file__, "")
IMAGE_DIR = support.IMAGE_DIR


def as_numpy(name):
    return {"array": name, "as": "numpy"}


def support_construct(call_id, name, *args):
    """A construct call of a support factory: `objects[call_id] = name(*args)`, no build."""
    spec = construct(call_id, S + name, {}, [], {})
    spec.update(args=list(args), build=None)
    return spec


def student_construct(call_id, name, *args, **kwargs):
    """Keeps what the student's function returns (a dataset, a model) as object `call_id`."""
    spec = construct(call_id, name, kwargs, [], {})
    spec.update(args=list(args), build=None)
    return spec


def get_results(outcome, *keys):
    """The arrays at `keys`; raises Missing with the error of the call that built the object."""
    for key in keys:
        built_by = BUILT_BY.get(key.partition(".")[0])
        text = outcome.error(built_by) if built_by else None
        if text:
            message = f"{UNIT_OF[built_by]} raised an error:\n{clean_traceback(text)}"
            if "strategy.scope()" in text:
                message += (
                    "\nThe model was built outside strategy.scope(): call build_model() and "
                    "compile inside `with strategy.scope():`."
                )
            raise Missing(message)
    return [outcome.get(k) for k in keys]


# The result of a support call -> the student's construct call it reads (for error messages).
BUILT_BY = {
    "ds_plain_arrays": "ds_plain",
    "ds_shuf1_arrays": "ds_shuf1",
    "ds_shuf2_arrays": "ds_shuf2",
    "report": "trained",
}
UNIT_OF = {
    "ds_plain": "make_image_dataset",
    "ds_shuf1": "make_image_dataset",
    "ds_shuf2": "make_image_dataset",
    "trained": "train_with_strategy",
}
