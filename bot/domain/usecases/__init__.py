"""Use cases: change rows through the store's named queries and flush; the edge commits."""
