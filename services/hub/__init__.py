"""The hub: intake, one case-assembling consumer per subscriber, its case store, and the API."""
