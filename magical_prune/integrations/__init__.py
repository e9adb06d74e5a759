"""Integrations with placers' own Python drivers (MAGICAL's IdeaPlaceEx today).

These modules sit above the hook and the predictor, like the command line: nothing in the
core imports them. They are what a flow script imports to get a
:class:`~magical_prune.placement.Placement` out of a placer that never writes one, and to
run the pruning hook inside the placer's net-weight enumeration.

* :mod:`magical_prune.integrations.ideaplace`: :class:`RecordingPlacer`, a pass-through
  proxy of ``IdeaPlaceExPy.IdeaPlaceEx`` that records the problem it is fed;
* :mod:`magical_prune.integrations.magical`: the pieces a MAGICAL flow script adds
  (recording during ``PnR.placeOnly``, a decision before ``routeOnly``, and a net-weight
  enumeration driver).
"""
