"""The web console: people (not API keys) see, decide and act, under the same roles and tenant scope."""
