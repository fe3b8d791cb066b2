"""`python -m aggregator` is the same as the `aggregator` console script."""

from aggregator.cli import run

run()
