package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// RunPlugin runs a plugin written in Python from its directory's __main__.py. In Pulumi 3.259 this is how the
// CLI starts a Python policy pack (`pulumi preview --policy-pack DIR` with `runtime: python` in
// DIR/PulumiPolicy.yaml): when a `python` language plugin exists, the CLI no longer looks for the old
// `pulumi-analyzer-policy-python` shim but asks this host to run the pack. The pack prints the port of its
// analyzer server on stdout, which we stream back to the CLI.
func (h *pythonHost) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	opts, err := pythonOptions(req.GetInfo())
	if err != nil {
		return err
	}
	// A plugin without a `virtualenv` option uses ./venv when the directory has one, else the ambient Python.
	if opts.Toolchain == toolchain.Pip && opts.Virtualenv == "" && toolchain.IsVirtualEnv(filepath.Join(opts.Root, "venv")) {
		opts.Virtualenv = "venv"
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return err
	}

	dir := req.GetInfo().GetProgramDirectory()
	if _, err := os.Stat(filepath.Join(dir, "__main__.py")); err != nil {
		return fmt.Errorf("python plugin %s has no __main__.py: %w", dir, err)
	}

	// -u: the plugin's first stdout line is its port, which must reach the CLI at once, not when a buffer fills.
	args := append([]string{"-u", dir}, req.GetArgs()...)
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Dir = req.GetPwd()

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr

	logging.V(5).Infof("python language host running plugin %v", cmd.Args)
	runErr := cmd.Run()
	if err := closer.Close(); err != nil {
		return err
	}
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
		return nil
	case errors.As(runErr, &exitErr):
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
		})
	default:
		return fmt.Errorf("could not start python plugin %s: %w", dir, runErr)
	}
}
