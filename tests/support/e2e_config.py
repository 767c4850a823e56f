"""Settings the end-to-end platform starts with, shared by its fixtures and the tests."""

ADMIN_TOKEN = "e2e-operator-token"
GOOGLE_CLIENT_ID = "e2e-client.apps.googleusercontent.test"
ADMIN_EMAIL = "boss@e2e-mail.dev"
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 12
# A plan that may register problems without a cap (created by the registrar_plan fixture).
REGISTRAR_PLAN = "e2e-registrar"
# A second admin address, registered with a password by an "attacker" before its owner signs in
# with Google (test_accounts_hardening_e2e.py).
LINKED_ADMIN_EMAIL = "chief@e2e-mail.dev"
