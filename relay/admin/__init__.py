"""The admin console: sign-in, roles, audit, and the pages that set a workspace up."""
