"""nbgrader configuration, for instructors who grade with nbgrader itself.

`solutions/` is nbgrader's source directory and `assignments/` its release
directory, so `nbgrader generate_assignment a1_attention` writes the same
cells as `python -m autograder release a1_attention` (which is what we commit;
nbgrader's answer cells raise NotImplementedError where ours hold `set()`).

TensorFlow pitfall: nbgrader scores 0 for any test cell with output on
stderr, and TensorFlow's first operation prints "failed call to cuInit" on a
machine without a GPU. The kernels nbgrader starts inherit this process's
environment, so TF_CPP_MIN_LOG_LEVEL=3 silences that; IgnorePattern drops the
start-up lines TensorFlow prints whatever the log level.

The training sections of a3-a6 run in quick mode under nbgrader (COURSE_QUICK=1):
they are not graded, and full training would cost minutes per student.

Run from the repository root:
    nbgrader generate_assignment a1_attention --force
    nbgrader autograde a1_attention --force
"""

import os

c = get_config()  # noqa: F821 (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Training sections (a3-a6) are not graded: autograde runs them as a short smoke run
# (course_lib.notebook.quick_mode), not the minutes of full training per student.
os.environ.setdefault("COURSE_QUICK", "1")
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"cuInit|cudart_stub|cuda_platform|absl::InitializeLog|cpu_feature_guard|"
    r"oneDNN custom operations|computation placer"
)
c.Execute.timeout = 300  # seconds per cell; importing TensorFlow alone takes ~5 s
