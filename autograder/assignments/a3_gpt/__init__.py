"""a3_gpt: notebook source, grading suite, catalog and jail support files."""
