package main

import (
	"encoding/json"
	"testing"
)

func decodePlugin(t *testing.T, pkg, version, pluginJSONText string) installedPlugin {
	t.Helper()
	var p pluginJSON
	if err := json.Unmarshal([]byte(pluginJSONText), &p); err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	return installedPlugin{Package: pkg, Version: version, Plugin: p}
}

func TestProviderSDKNamesThePluginVersionTheCLIMustLoad(t *testing.T) {
	dep, err := packageDependency(decodePlugin(t, "pulumi_keycloak", "6.13.0",
		`{"resource": true, "name": "keycloak", "version": "6.13.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	if dep == nil || dep.Name != "keycloak" || dep.Version != "v6.13.0" || dep.Kind != "resource" {
		t.Fatalf("got %+v, want resource plugin keycloak v6.13.0", dep)
	}
}

func TestPackageWithoutAPluginIsNotReported(t *testing.T) {
	dep, err := packageDependency(decodePlugin(t, "pulumi_policy", "1.21.0", `{"resource": false}`))
	if err != nil || dep != nil {
		t.Fatalf("pulumi-policy needs no plugin, got %+v, %v", dep, err)
	}
}

func TestPluginNameAndVersionFallBackToTheDistribution(t *testing.T) {
	dep, err := packageDependency(decodePlugin(t, "pulumi_docker", "5.1.0", `{"resource": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if dep == nil || dep.Name != "docker" || dep.Version != "v5.1.0" {
		t.Fatalf("got %+v, want docker v5.1.0", dep)
	}
}

func TestPrereleaseDistributionWithoutPluginVersionIsLeftToLoadOnDemand(t *testing.T) {
	dep, err := packageDependency(decodePlugin(t, "pulumi-aws", "6.0.0a1700000000", `{"resource": true}`))
	if err != nil || dep != nil {
		t.Fatalf("got %+v, %v; want it skipped", dep, err)
	}
}

func TestInvalidPluginVersionFailsLoudly(t *testing.T) {
	if _, err := packageDependency(decodePlugin(t, "pulumi-x", "1.0.0",
		`{"resource": true, "name": "x", "version": "latest"}`)); err == nil {
		t.Fatal("want an error for a plugin version that is not semver")
	}
}

func TestParameterizedPackageKeepsItsParameter(t *testing.T) {
	dep, err := packageDependency(decodePlugin(t, "pulumi_tf", "0.1.0", `{"resource": true, "name": "terraform-provider",
		"version": "0.8.0", "parameterization": {"name": "tf", "version": "0.1.0", "value": "aGVsbG8="}}`))
	if err != nil {
		t.Fatal(err)
	}
	p := dep.GetParameterization()
	if p == nil || p.Name != "tf" || p.Version != "0.1.0" || string(p.Value) != "hello" {
		t.Fatalf("got %+v, want parameterization tf 0.1.0 with value hello", p)
	}
}
