"""Policy-as-code for the MLflow + Keycloak stack.

Each rule is a pure function of a resource's properties (plain Python values, with
``UNKNOWN`` where the engine cannot know a value during preview) that yields violation
messages; ``pack.py`` turns the rules into pulumi-policy resource validation policies.
"""
