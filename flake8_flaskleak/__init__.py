"""flake8-flaskleak: find the code that makes long-running Flask services leak."""

__version__ = "0.2.0"
