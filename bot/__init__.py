"""Plan Tracker: the running service and its rules."""
