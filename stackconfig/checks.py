"""The checks that span several keys, run once every key has passed its own: each message names
the key, the value and the fix."""

from __future__ import annotations

from urllib.parse import urlsplit

from stackconfig.base import config_key
from stackconfig.stack import StackConfig
from stackconfig.targets import KubernetesSpec
from stackrules.addresses import is_loopback


def _tls_errors(cfg: StackConfig) -> list[str]:
    """TLS whenever anything is published beyond loopback, and what each mode needs."""
    errors: list[str] = []
    if cfg.tls == "off" and not is_loopback(cfg.bind_address):
        errors.append(
            f"bindAddress = {cfg.bind_address!r}: beyond loopback without TLS, passwords and "
            "session cookies would cross the network in clear. Fix: pulumi config set tls "
            "internal (or files / acme), or keep bindAddress 127.0.0.1"
        )
    if cfg.tls != "off" and cfg.mlflow_hostname == cfg.keycloak_hostname:
        errors.append(
            f"mlflowHostname = {cfg.mlflow_hostname!r}: same as keycloakHostname; they must "
            "differ so that each keeps its cookies. Fix: pulumi config set mlflowHostname "
            "mlflow.<your domain>"
        )
    if cfg.tls == "acme":
        if not cfg.acme_email:
            errors.append(
                "acmeEmail: required with tls = 'acme' (the certificate authority's contact). "
                "Fix: pulumi config set acmeEmail you@example.com"
            )
        if cfg.acme_ca and not cfg.acme_ca.startswith("https://"):
            errors.append(
                f"acmeCa = {cfg.acme_ca!r}: an ACME directory is reached over HTTPS. Fix: "
                "pulumi config set acmeCa https://ca.example.com/acme/directory"
            )
        if cfg.acme_ca_root and "-----BEGIN CERTIFICATE-----" not in cfg.acme_ca_root:
            errors.append(
                "acmeCaRoot: not a PEM certificate (no BEGIN CERTIFICATE line). Fix: "
                "pulumi config set acmeCaRoot < root.pem"
            )
        for key, name in (
            ("mlflowHostname", cfg.mlflow_hostname),
            ("keycloakHostname", cfg.keycloak_hostname),
        ):
            if name == "localhost" or name.endswith(".localhost"):
                errors.append(
                    f"{key} = {name!r}: a public certificate authority cannot certify a "
                    f"localhost name. Fix: a public DNS name, or pulumi config set tls internal"
                )
    # Unset keys read as "" on the real engine (Pulumi.yaml's defaults).
    if cfg.tls != "acme" and (cfg.acme_ca or cfg.acme_ca_root):
        errors.append(
            f"acmeCa, acmeCaRoot: used only with tls = 'acme' (tls is {cfg.tls!r}). Fix: "
            "pulumi config set tls acme, or pulumi config rm acmeCa (and acmeCaRoot)"
        )
    if cfg.tls == "files":
        for field, pem in (("tls_certificate", "cert.pem"), ("tls_key", "key.pem")):
            if not getattr(cfg, field):
                errors.append(
                    f"{config_key(field)}: required with tls = 'files'. Fix: pulumi config set "
                    f"--secret {config_key(field)} < {pem}"
                )
    return errors


def cross_key_errors(cfg: StackConfig) -> list[str]:
    """Every check that spans several keys."""
    if cfg.target == "kubernetes":
        # A cluster publishes through its Ingress (always HTTPS): no host port, no edge proxy.
        placement = _kubernetes_errors(cfg.kubernetes, cfg.mlflow_image)
    else:
        placement = _host_errors(cfg)
    return placement + _realm_errors(cfg)


def _host_errors(cfg: StackConfig) -> list[str]:
    """The Docker target's published ports and TLS."""
    errors: list[str] = []
    ports = {
        "keycloakPort": cfg.keycloak_port,
        "mlflowPort": cfg.mlflow_port,
        "mlflowDbPort": cfg.mlflow_db_port,
        "keycloakDbPort": cfg.keycloak_db_port,
    }
    if cfg.tls != "off":
        ports.update(httpsPort=cfg.https_port, httpPort=cfg.http_port)
    errors += _tls_errors(cfg)
    if cfg.replicas > 1 and cfg.tls == "off":
        errors.append(
            f"mlflowReplicas = {cfg.replicas}: more than one MLflow server needs the edge proxy "
            "to balance them, which runs with TLS. Fix: pulumi config set tls internal, or "
            "pulumi config rm mlflowReplicas"
        )
    seen: dict[int, str] = {}
    for key, port in ports.items():
        if port in seen:
            errors.append(
                f"{key} = {port}: clashes with {seen[port]} = {port}; each published port must "
                f"differ. Fix: pulumi config set {key} <free port>"
            )
        seen.setdefault(port, key)
    return errors


def _realm_errors(cfg: StackConfig) -> list[str]:
    """The realm, its people and their MLflow permissions, whatever the target."""
    errors: list[str] = []
    order = [
        (
            "access_token_lifespan",
            "sso_session_idle_timeout",
            "a token may not outlive its session",
        ),
        ("sso_session_idle_timeout", "sso_session_max_lifespan", "idle timeout beyond the max"),
    ]
    for shorter, longer, why in order:
        if cfg.seconds(shorter) > cfg.seconds(longer):
            low, high = config_key(shorter), config_key(longer)
            errors.append(
                f"{low} = {getattr(cfg, shorter)!r}: longer than {high} = "
                f"{getattr(cfg, longer)!r} ({why}). Fix: pulumi config set {low} "
                f"<at most {getattr(cfg, longer)}>"
            )

    if not cfg.provision_on_bearer_auth:
        errors.append(
            "provisionOnBearerAuth = False: cannot be false: the stack's admin account, which "
            "deactivates offboarded people in MLflow, is created by its first bearer call. Fix: "
            "pulumi config rm provisionOnBearerAuth (the default is true)"
        )

    if cfg.automation_client_id == cfg.client_id:
        errors.append(
            f"automationClientId = {cfg.automation_client_id!r}: same as clientId; the "
            "automation client needs an id of its own. Fix: pulumi config set "
            "automationClientId mlflow-automation"
        )

    if cfg.user_group == cfg.admin_group:
        errors.append(
            f"adminGroup = {cfg.admin_group!r}: same as userGroup; admins need a group of their "
            "own. Fix: pulumi config set adminGroup mlflow-admin"
        )

    usernames: set[str] = set()
    emails: set[str] = set()
    for index, user in enumerate(cfg.users):
        where = f"users[{index}]"
        if user.username in usernames:
            errors.append(
                f"{where}.username = {user.username!r}: duplicate username; each user must be "
                "listed once. Fix: remove or rename one entry"
            )
        usernames.add(user.username)
        if user.email.lower() in emails:
            errors.append(
                f"{where}.email = {user.email!r}: duplicate email; Keycloak requires unique "
                "emails. Fix: give each user their own address"
            )
        emails.add(user.email.lower())
        for group in user.groups:
            if group not in cfg.groups:
                hint = " (teams go under teams:)" if group in cfg.team_names else ""
                errors.append(
                    f"{where}.groups: unknown group {group!r}; known groups are "
                    f"{cfg.user_group!r} and {cfg.admin_group!r}{hint}. Fix: use one of them"
                )
        for team in user.teams:
            if team not in cfg.team_names:
                errors.append(
                    f"{where}.teams: unknown team {team!r}; {_known_teams(cfg)}. Fix: add it "
                    "to teams, or use one of them"
                )
    return (
        errors
        + _team_errors(cfg)
        + _permission_errors(cfg, usernames)
        + _otp_errors(cfg)
        + _broker_errors(cfg)
    )


def _broker_errors(cfg: StackConfig) -> list[str]:
    errors: list[str] = []
    names = [directory.name for directory in cfg.ldap]
    for index, name in enumerate(names):
        if name in names[:index]:
            errors.append(
                f"ldap[{index}].name = {name!r}: duplicate. Fix: give each directory its own name"
            )
    aliases: set[str] = set()
    for index, idp in enumerate(cfg.identity_providers):
        where = f"identityProviders[{index}]"
        if idp.alias in aliases:
            errors.append(f"{where}.alias = {idp.alias!r}: duplicate. Fix: one entry per IdP")
        aliases.add(idp.alias)
        for value, team in idp.teams.items():
            if team not in cfg.team_names:
                errors.append(
                    f"{where}.teams.{value} = {team!r}: unknown team; {_known_teams(cfg)}. "
                    "Fix: add it to teams, or map the claim value to a configured team"
                )
    return errors


def _otp_errors(cfg: StackConfig) -> list[str]:
    errors: list[str] = []
    default = StackConfig.model_fields["require_otp_for"].default
    for index, group in enumerate(cfg.require_otp_for):
        if group in (*cfg.groups, *cfg.team_names):
            continue
        why = f"neither a group ({cfg.user_group!r}, {cfg.admin_group!r}) nor a team"
        if group in default:
            why += (
                "; the default names the default admin group, and adminGroup is now "
                f"{cfg.admin_group!r}"
            )
        errors.append(
            f"requireOtpFor[{index}] = {group!r}: {why}. Fix: pulumi config set --path "
            f"'requireOtpFor[{index}]' {cfg.admin_group} (or list the groups and teams that "
            "need a second factor; [] for none)"
        )
    return errors


def _known_teams(cfg: StackConfig) -> str:
    names = ", ".join(repr(name) for name in cfg.team_names)
    return f"known teams are {names}" if names else "no teams are configured"


def _team_errors(cfg: StackConfig) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    for index, team in enumerate(cfg.teams):
        where = f"teams[{index}].name = {team.name!r}"
        if team.name in cfg.groups:
            errors.append(
                f"{where}: is the name of the user or admin group; a team needs a name of its "
                "own. Fix: rename the team"
            )
        if team.name in seen:
            errors.append(f"{where}: duplicate team. Fix: list each team once")
        seen.add(team.name)
    return errors


def _permission_errors(cfg: StackConfig, usernames: set[str]) -> list[str]:
    errors: list[str] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(cfg.permissions):
        where = f"permissions[{index}]"
        if entry.team is not None and entry.team not in cfg.team_names:
            errors.append(
                f"{where}.team = {entry.team!r}: unknown team; {_known_teams(cfg)}. Fix: add it "
                "to teams, or name a configured team"
            )
        if entry.user is not None and entry.user not in usernames:
            errors.append(
                f"{where}.user = {entry.user!r}: not the username of anyone in users. Fix: name "
                "a configured person, or add them to users"
            )
        if entry.key in seen:
            errors.append(
                f"{where}: grants on the same {entry.resource} selector to the same "
                f"{entry.subject_kind} as permissions[{seen[entry.key]}]. Fix: keep one entry"
            )
        seen.setdefault(entry.key, index)
    return errors


def _kubernetes_errors(spec: KubernetesSpec | None, mlflow_image: str | None) -> list[str]:
    """What the kubernetes target needs beyond each key's own bounds."""
    if spec is None:
        return [
            "kubernetes: required with target = 'kubernetes'. Fix: pulumi config set --path "
            "kubernetes.namespace mlflow (and the keys docs/kubernetes.md lists)"
        ]
    errors: list[str] = []
    if not mlflow_image:
        errors.append(
            "mlflowImage: required with target = 'kubernetes' (a cluster pulls its images from a "
            "registry). Fix: build images/mlflow, push it, pulumi config set mlflowImage "
            "registry.example.com/mlflow-oidc:TAG"
        )
    if (spec.ingress_certificate is None) == (spec.cert_manager_issuer is None):
        errors.append(
            "kubernetes.ingressCertificate / kubernetes.certManagerIssuer: give exactly one "
            "(the Ingress serves HTTPS only). Fix: pulumi config set --path "
            "kubernetes.ingressCertificate mlflow-tls"
        )
    if spec.artifacts is None:
        errors.append(
            "kubernetes.artifacts: required (MLflow's replicas share one artifact store). Fix: "
            "pulumi config set --path kubernetes.artifacts.bucket my-bucket, and the keys "
            "accessKeyId and secretAccessKey with --secret"
        )
    if spec.redis_url is not None and urlsplit(spec.redis_url).scheme not in ("redis", "rediss"):
        errors.append(
            "kubernetes.redisUrl: must be a redis:// or rediss:// URL (the value is not shown). "
            "Fix: pulumi config set --secret --path kubernetes.redisUrl redis://HOST:6379/0"
        )
    return errors
