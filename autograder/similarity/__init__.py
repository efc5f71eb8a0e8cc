"""Code similarity between students, per unit: `python -m autograder similarity`.

`units` reads every submission and keeps, per unit (a graded function or class), the code
the student wrote in that unit's solution cell, as `extract` keeps it; `compare` fingerprints
it with copydetect (winnowing, as MOSS), with the released stub of the unit and the code
given in the notebook as boilerplate, and ranks the pairs; `run` writes the HTML report
(autograder.reports.similarity_html). It flags pairs for a person to review; it never
changes a score.
"""
