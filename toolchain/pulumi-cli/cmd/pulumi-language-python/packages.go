package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/blang/semver"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// listPluginsScript prints, for every installed distribution that carries a top-level
// <module>/pulumi-plugin.json, the distribution's name and version and the file's content. Provider SDKs such as
// pulumi_keycloak ship that file to name the plugin (and version) the CLI must load for them.
const listPluginsScript = `
import importlib.metadata, json, sys
found = []
for dist in importlib.metadata.distributions():
    for f in dist.files or ():
        if len(f.parts) == 2 and f.parts[1] == "pulumi-plugin.json":
            found.append({"package": dist.metadata["Name"], "version": dist.version,
                          "plugin": json.loads(f.read_text())})
json.dump(found, sys.stdout)
`

type pluginJSON struct {
	Resource         bool   `json:"resource"`
	Name             string `json:"name"`
	Version          string `json:"version"`
	Server           string `json:"server"`
	Parameterization *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Value   []byte `json:"value"` // base64 in the file, which encoding/json decodes into bytes
	} `json:"parameterization"`
}

type installedPlugin struct {
	Package string     `json:"package"`
	Version string     `json:"version"`
	Plugin  pluginJSON `json:"plugin"`
}

// GetRequiredPackages tells the CLI which provider plugins the program's packages need, so that a missing
// plugin is reported before the program starts rather than halfway through an update.
func (h *pythonHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, _, err := resolve(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPluginsScript)
	if err != nil {
		return nil, err
	}
	cmd.Dir = req.GetInfo().GetProgramDirectory()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the Pulumi packages installed for %s failed: %w\n%s",
			cmd.Path, err, stderr.String())
	}
	var installed []installedPlugin
	if err := json.Unmarshal(out, &installed); err != nil {
		return nil, fmt.Errorf("parsing the list of installed Pulumi packages: %w", err)
	}

	resp := &pulumirpc.GetRequiredPackagesResponse{}
	seen := map[string]bool{}
	for _, pkg := range installed {
		dep, err := packageDependency(pkg)
		if err != nil {
			return nil, err
		}
		if dep == nil {
			continue
		}
		key := dep.Name + "@" + dep.Version
		if dep.Parameterization != nil {
			key += "/" + dep.Parameterization.Name + "@" + dep.Parameterization.Version
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		resp.Packages = append(resp.Packages, dep)
	}
	return resp, nil
}

// packageDependency maps one installed SDK to the plugin it needs, or nil when it needs none
// (pulumi-policy, for instance, declares "resource": false).
func packageDependency(pkg installedPlugin) (*pulumirpc.PackageDependency, error) {
	p := pkg.Plugin
	if !p.Resource {
		return nil, nil
	}
	name := p.Name
	if name == "" {
		name = strings.TrimPrefix(strings.ReplaceAll(strings.ToLower(pkg.Package), "_", "-"), "pulumi-")
	}
	ver := p.Version
	if ver == "" {
		// A pip version such as 3.1.0a17 does not say which plugin build it pairs with; leave that plugin to be
		// loaded on demand when the program registers a resource, as upstream does.
		if _, err := semver.ParseTolerant(pkg.Version); err != nil {
			logging.V(5).Infof("skipping %s %s: no plugin version can be derived", pkg.Package, pkg.Version)
			return nil, nil
		}
		ver = pkg.Version
	}
	if _, err := semver.ParseTolerant(ver); err != nil {
		return nil, fmt.Errorf("package %s %s: plugin version %q is not a semantic version: %w",
			pkg.Package, pkg.Version, ver, err)
	}
	if !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	dep := &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: ver, Server: p.Server}
	if p.Parameterization != nil {
		dep.Parameterization = &pulumirpc.PackageParameterization{
			Name:    p.Parameterization.Name,
			Version: p.Parameterization.Version,
			Value:   p.Parameterization.Value,
		}
	}
	return dep, nil
}
