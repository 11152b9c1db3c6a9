"""The rates capability's HTTP blueprints: quotes, rate cards, markups."""
