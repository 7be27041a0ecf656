"""Type tokens of the resources the rules read (the engine's names, not the Python classes)."""

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
BUILT_IMAGE = "docker:index/image:Image"
REALM = "keycloak:index/realm:Realm"
REALM_EVENTS = "keycloak:index/realmEvents:RealmEvents"
OIDC_CLIENT = "keycloak:openid/client:Client"
GROUP_MAPPER = "keycloak:openid/groupMembershipProtocolMapper:GroupMembershipProtocolMapper"
# Every Python dynamic resource has this type; the stack's MLflow permissions carry a marker.
DYNAMIC = "pulumi-python:dynamic:Resource"
