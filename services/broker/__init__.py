"""The consent and need-to-know broker: decides per subscriber and per section, re-keys, and audits."""
