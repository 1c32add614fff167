"""The actors, one module per capability. Each is thin: it names itself, its queue and its time limit (retries
and giving up: ``workers.policy``) and calls pipeline functions. Import them only through
``workers.broker.load_actors``, after ``setup_broker``: an actor binds to the global broker as it is declared.
"""
