"""Service statistics for staff (`supportStatistics`)."""
