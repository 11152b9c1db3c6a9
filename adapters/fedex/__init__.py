"""FedEx over REST (OAuth client credentials, Rates and Transit Times, Ship, Cancel, Track, AIV webhook)."""
