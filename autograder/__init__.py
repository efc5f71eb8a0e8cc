"""autograder: release student notebooks from solutions and grade them in a sandbox."""
