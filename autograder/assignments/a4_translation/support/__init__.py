"""Trusted files shipped into the jail as the package `grader_support` (see Group.support).

They run next to the submission: they import only keras, tensorflow, numpy, course_lib
modules (shipped by autograder.grading.site) and each other (relative imports).
"""
