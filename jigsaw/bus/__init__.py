"""Kafka plumbing shared by every service: clients, topics, the consume loop, the store and the outbox."""
