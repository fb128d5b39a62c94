"""camwatch domain library: every Cloud Run function imports from here."""
