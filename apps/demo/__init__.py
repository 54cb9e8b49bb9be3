"""The demo deployment and its scenario driver."""
