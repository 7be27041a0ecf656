"""An application's own login role and database inside a PostgresServer."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_postgresql as postgresql

from components.docker.postgres_server import PostgresServer
from components.generated import generated_secret
from components.stack_component import Options, StackComponent, data_options


class AppDatabaseArgs(TypedDict):
    server: PostgresServer
    database: str
    role: str
    protect: bool


class AppDatabase(StackComponent):
    """A non-superuser login role that owns one database, with a generated password.

    Built with its server's own postgresql provider.
    """

    server: PostgresServer
    password: pulumi.Output[str]
    role: postgresql.Role
    database: postgresql.Database

    def __init__(self, name: str, args: AppDatabaseArgs, opts: Options = None) -> None:
        self.server = args["server"]
        on_server = pulumi.ResourceOptions(providers={"postgresql": self.server.provider})
        super().__init__(name, pulumi.ResourceOptions.merge(opts, on_server))
        # Alphanumeric only: the password is embedded in connection URIs.
        self.password = generated_secret(f"{name}-password", self)
        self.role = postgresql.Role(
            f"{name}-role",
            name=args["role"],
            login=True,
            password=self.password,
            superuser=False,
            create_database=False,
            create_role=False,
            inherit=True,
            # Kept with the database: a role that owns a kept database's tables cannot go.
            opts=data_options(self, args["protect"]),
        )
        self.database = postgresql.Database(
            f"{name}-db",
            name=args["database"],
            owner=self.role.name,
            opts=data_options(self, args["protect"]),
        )
        # Nobody but the owner may connect: PUBLIC gets CONNECT by default.
        postgresql.Grant(
            f"{name}-revoke-public",
            database=self.database.name,
            role="public",
            object_type="database",
            privileges=[],
            opts=self.child,
        )
        self.register_outputs({"role": self.role.name, "database": self.database.name})

    def store(self, purpose: str) -> dict[str, pulumi.Input[str]]:
        """Where a backup finds this database (what it holds, its name, its owner, its
        server's container)."""
        return {
            "purpose": purpose,
            "database": self.database.name,
            "owner": self.role.name,
            "container": self.server.container.name,
        }

    def uri(self) -> pulumi.Output[str]:
        """SQLAlchemy URI for containers on the stack's network (psycopg 3 driver), secret."""
        return pulumi.Output.secret(
            pulumi.Output.format(
                "postgresql+psycopg://{0}:{1}@{2}:{3}/{4}",
                self.role.name,
                self.password,
                self.server.alias,
                5432,
                self.database.name,
            )
        )
