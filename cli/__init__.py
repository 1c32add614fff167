"""The ``voronka`` command: an entry point like web/, bot/ and workers/, above the pipelines.

``cli/main.py`` lists the commands and dispatches; ``voronka <command>`` lives in ``cli/<command>.py``, which registers
its arguments and handler (``register(parser)``). ``services.py``, ``output.py`` and ``process.py`` hold what several
commands share.
"""
