package main

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

func info(t *testing.T, options map[string]any) *pulumirpc.ProgramInfo {
	t.Helper()
	s, err := structpb.NewStruct(options)
	if err != nil {
		t.Fatal(err)
	}
	return &pulumirpc.ProgramInfo{RootDirectory: "/p", ProgramDirectory: "/p", EntryPoint: ".", Options: s}
}

func TestVirtualenvOptionIsPassedToPip(t *testing.T) {
	opts, err := pythonOptions(info(t, map[string]any{"virtualenv": "venv"}))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Virtualenv != "venv" || opts.Toolchain != toolchain.Pip || opts.Root != "/p" {
		t.Fatalf("got %+v", opts)
	}
}

func TestToolchainAndTypecheckerOptions(t *testing.T) {
	opts, err := pythonOptions(info(t, map[string]any{"toolchain": "uv", "typechecker": "mypy"}))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Toolchain != toolchain.Uv || opts.Typechecker != toolchain.TypeCheckerMypy {
		t.Fatalf("got %+v", opts)
	}
}

func TestMisspeltOptionFailsInsteadOfBeingIgnored(t *testing.T) {
	for _, options := range []map[string]any{
		{"virtualEnv": "venv"},
		{"toolchain": "conda"},
		{"virtualenv": true},
	} {
		if _, err := pythonOptions(info(t, options)); err == nil {
			t.Errorf("options %v: want an error", options)
		}
	}
}
