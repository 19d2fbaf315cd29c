"""Analyses built on many runs of one scenario: local sensitivity (elasticities) of a run's outputs
to the parameters of its scenario file (``sensitivity.py``, the ``sensitivity`` command in
``command.py``)."""
