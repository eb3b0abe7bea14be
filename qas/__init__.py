"""The `qas` command line: the scaling simulator, its benchmark and the local demo."""
