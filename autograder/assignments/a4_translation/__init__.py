"""a4_translation: notebook source, grading suite, catalog and jail support files."""
