"""Agency connectors: the SDK, the source adapters and one reference connector per agency type."""
