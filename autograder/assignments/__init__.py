"""The assignments, one folder each; `registry.ASSIGNMENTS` lists them."""
