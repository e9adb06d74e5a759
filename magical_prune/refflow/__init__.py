"""The reference flow: example OTAs, an analytical placer with net-weight enumeration, and an
ngspice evaluator that labels every placement. A data source; the plugin never depends on it."""
