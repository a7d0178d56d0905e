"""The program model: what one file (and the project around it) says, computed once, lazily.

Layers import downward only: ``text``/``scan`` (no knowledge of Flask) <- ``scopes`` <-
``imports`` <- ``flask`` <- ``file`` (the per-file bundle rules read) <- the fact modules.
"""
