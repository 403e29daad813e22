"""How work runs: on local worker processes or threads (joblib), on a Dask cluster, and with the cyclic garbage
collector paused during bulk work. Below the formats, whose readers spread their parsing over workers too."""
