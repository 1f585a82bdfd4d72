"""keepfaith: a privacy engine that keeps the promises a privacy policy makes."""

__version__ = "0.1.0"
