"""The Kubernetes target: the stack's objects in a cluster (Keycloak Operator, CloudNativePG,
Deployment, Ingress)."""
