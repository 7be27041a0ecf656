#!/bin/bash
# First start: a cn=config with the core, cosine and inetOrgPerson schemas and one MDB
# database for LDAP_BASE_DN, whose root is cn=admin,LDAP_BASE_DN with LDAP_ADMIN_PASSWORD;
# then the base entry itself. Later starts reuse what is there.
set -euo pipefail
: "${LDAP_BASE_DN:?LDAP_BASE_DN is required, e.g. dc=corp,dc=example}"
: "${LDAP_ADMIN_PASSWORD:?LDAP_ADMIN_PASSWORD is required}"
config=/etc/ldap/slapd.d
if [ -z "$(ls -A "$config")" ]; then
  hash="$(slappasswd -s "$LDAP_ADMIN_PASSWORD")"
  first_dc="$(sed -E 's/^dc=([^,]+).*/\1/' <<<"$LDAP_BASE_DN")"
  slapadd -n 0 -F "$config" <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/nis.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: /var/lib/ldap
olcSuffix: $LDAP_BASE_DN
olcRootDN: cn=admin,$LDAP_BASE_DN
olcRootPW: $hash
olcDbIndex: objectClass eq
olcDbIndex: uid,cn eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by * read
LDIF
  slapadd -n 1 -F "$config" <<LDIF
dn: $LDAP_BASE_DN
objectClass: dcObject
objectClass: organization
o: $first_dc
dc: $first_dc
LDIF
  chown -R openldap:openldap "$config" /var/lib/ldap
fi
exec slapd -d 256 -h "ldap:///" -u openldap -g openldap -F "$config"
