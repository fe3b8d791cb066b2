"""Turn a folder of news article files into subscribable feeds."""

__version__ = "0.1.0"
