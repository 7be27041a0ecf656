"""stackctl: the operator's command line for a deployed MLflow + Keycloak stack.

It replaces the seed README's console clicks and curl-with-an-admin-password for listing and
revoking sessions, reading the token policy and the audit trail, and getting a token for
scripts. URLs and credentials come from the Pulumi stack's outputs, never from the user.
"""
