"""What handlers, scenes and the sweep share: announce an outcome, publish cards, deliver,
post a report."""
