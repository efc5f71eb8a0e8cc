"""a1_attention: notebook source, grading suite, catalog and jail support files."""
