"""Package data: the files of the bundled reference designs, one folder per design.

Installed as ``magical_prune.refflow.design_files`` (a data-only package, so the files
travel with a wheel); the code that reads them is :mod:`magical_prune.refflow.designs`.
"""
