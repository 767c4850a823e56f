"""Settings the end-to-end platform starts with, shared by its fixtures and the tests."""

ADMIN_TOKEN = "e2e-operator-token"
GOOGLE_CLIENT_ID = "e2e-client.apps.googleusercontent.test"
ADMIN_EMAIL = "boss@e2e-mail.dev"
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 12
