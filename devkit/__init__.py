"""Developer tools: the managed local Kafka and the kit that tests and benchmarks build worlds with."""
