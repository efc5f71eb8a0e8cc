"""a6_scaling: notebook source, grading suite, catalog and jail support files."""
