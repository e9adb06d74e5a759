"""Readers for the files of analog layout flows, installed as ``magical_prune.adapters``.

Each module turns one flow's files into the core types (:class:`~magical_prune.circuit.Circuit`,
:class:`~magical_prune.placement.Placement`) and nothing else; the core never parses files.
"""
