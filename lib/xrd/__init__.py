"""Report 2: crystal system from powder XRD (patterns, data sets, models, classify CLI)."""
