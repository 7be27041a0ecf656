// Package shim hands the upstream random Terraform provider to pulumi-random.
//
// pulumi-random replaces the module github.com/terraform-providers/terraform-provider-random/shim
// with ./shim and calls shim.NewProvider(). Upstream keeps its provider in an internal package;
// the import is allowed because this package's path sits under the upstream module's path.
// providers.sh copies this file next to a go.mod it writes from the provider's own requirements.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns upstream's plugin-framework provider, as pulumi-random's resources.go expects.
func NewProvider() provider.Provider {
	return upstream.New()
}
