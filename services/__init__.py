"""Jigsaw's services: the broker, the hub, the local Kafka manager and the command line."""
