// Command pulumi-language-python is this project's Python language host for the Pulumi CLI.
//
// Upstream's host lives in the nested module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3,
// which the Go module proxy reachable from our machines refuses to serve (HTTP 403, "This module version is not
// available"). This host covers what the stack needs -- running a program, reporting the provider plugins its
// packages need, listing dependencies, installing them, and running Python policy packs -- on top of the Python
// toolchain support that ships inside sdk/v3 (github.com/pulumi/pulumi/sdk/v3/python/toolchain). Program code
// generation (`pulumi convert`, `pulumi import --generate-code`) is not implemented.
//
// The CLI starts the host as `pulumi-language-python [glog flags] [--tracing URL] ENGINE_ADDRESS`; the host prints
// the port of its gRPC server on stdout and serves until the CLI closes it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// execScriptName is the Python entry point shipped in the Pulumi Python SDK sources (python/cmd/ of sdk/v3); it
// wires the program to the engine's resource monitor. It must lie next to this executable.
const execScriptName = "pulumi-language-python-exec"

func main() {
	var tracing string
	flag.StringVar(&tracing, "tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	flag.Parse()

	logging.InitLogging(false, 0, false)
	cmdutil.InitTracing("pulumi-language-python", "pulumi-language-python", tracing)

	execScript, err := findExecScript()
	if err != nil {
		cmdutil.Exit(err)
	}

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	host := &pythonHost{execScript: execScript, engineAddress: engineAddress, tracing: tracing}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.TracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the language host's gRPC server: %w", err))
	}

	// The CLI reads the port from the first line of our stdout.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host stopped serving: %w", err))
	}
}

func findExecScript() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("could not locate the language host executable: %w", err)
	}
	script := filepath.Join(filepath.Dir(self), execScriptName)
	if _, err := os.Stat(script); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s is missing next to %s; rerun toolchain/pulumi-cli.sh", execScriptName, self)
		}
		return "", err
	}
	return script, nil
}
