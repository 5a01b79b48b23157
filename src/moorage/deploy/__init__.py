"""Deploy recipes: deploy, rollback, releases, status, logs — short sequences of named steps
inside the server-side deploy lock, each ending with an audit line (Kamal's shape)."""
