"""`make bench`: province-sized synthetic benchmarks; each figure is a ratio against a
baseline measured in the same run, because these machines are noisy."""
