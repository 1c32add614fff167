"""``python -m cli``: the same as the ``voronka`` console script."""

from cli.main import main

raise SystemExit(main())
