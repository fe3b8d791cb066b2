"""`python -m aggregator` is the same as the `aggregator` console script."""

from aggregator.cli import main

raise SystemExit(main())
