"""The plan: what cmkctl intends to do (model), its saved JSON document, whether a saved plan is
stale, and `--target` selection.

Imports only core: the plan is what the engine writes and renderers, files and reviewers read.
"""
