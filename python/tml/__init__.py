"""tml-optimizers: compiled learning-rate schedules for tml-style training code."""

__version__ = "0.1.0"
