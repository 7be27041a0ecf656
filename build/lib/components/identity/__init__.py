"""The realm side: what the stack declares through Keycloak's admin API and the plugin's,
the same on every target."""
