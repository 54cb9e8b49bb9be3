"""The wire contract: schemas, the codec, the sealed envelope and participant keys."""
