"""course_lib: reference Transformer layers, models, data pipelines and training for the course.

The layers are the reference solutions the autograder compares student work
with; the models, data pipelines and `python -m course_lib.train` are what a
learner keeps using after the course.
"""

__version__ = "0.1.0"

from course_lib.requirements import check_versions

check_versions()
