"""Local services (PostgreSQL, Redis, SMTP sink) the sandbox and the tests start by themselves."""
