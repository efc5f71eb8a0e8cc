"""a2_transformer: notebook source, grading suite, catalog and jail support files."""
