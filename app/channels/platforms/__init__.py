"""Voice and avatar platforms: call continuity, tool round trips, caller identification, Retell."""
