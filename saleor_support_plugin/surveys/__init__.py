"""Surveys: post-purchase NPS and post-ticket CSAT, one-click scores, the closed loop.

`scheduling` decides which orders and tickets are owed a survey and when (from
facts, at send time), `tokens` signs the one-click links, `services` records
scores and comments and opens follow-up tickets, `views` serves the page the
links open.
"""
