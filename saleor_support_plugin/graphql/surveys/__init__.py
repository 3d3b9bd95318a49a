"""Surveys over GraphQL: answering by token, staff views of answers, testimonials."""
