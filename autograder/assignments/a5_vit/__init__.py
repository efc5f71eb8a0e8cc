"""a5_vit: notebook source, grading suite, catalog and jail support files."""
