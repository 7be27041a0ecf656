// Package shim hands the upstream Docker Terraform provider to pulumi-docker.
//
// pulumi-docker's provider calls shim.NewProvider() and wraps the result with the bridge's
// sdk-v2 shim. Upstream keeps its provider in an internal package, which only packages inside
// the upstream module may import, so providers.sh copies this file to <upstream>/shim/.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// upstreamVersion is what the upstream provider reports about itself (user agent only).
var upstreamVersion = "pulumi"

// NewProvider returns upstream's SDKv2 provider, as pulumi-docker's resources.go expects.
func NewProvider() *schema.Provider {
	return provider.New(upstreamVersion)()
}
