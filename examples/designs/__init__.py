"""Reference designs ota1..ota4 (Spectre netlists, symmetry, channels), installed as package data."""
