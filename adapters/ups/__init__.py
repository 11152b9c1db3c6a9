"""UPS over REST (OAuth client credentials, Rating, Shipping, Tracking, Track Alert)."""
