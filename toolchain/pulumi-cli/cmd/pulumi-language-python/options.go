package main

import (
	"fmt"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// pythonOptions turns the `runtime.options` of Pulumi.yaml (or PulumiPolicy.yaml) into toolchain options.
// Unknown keys are rejected so that a misspelt option fails loudly instead of being ignored.
func pythonOptions(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	if info == nil {
		return toolchain.PythonOptions{}, fmt.Errorf("the CLI sent no program info; is it older than this host?")
	}
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Toolchain:  toolchain.Pip,
	}

	for key, value := range info.GetOptions().AsMap() {
		text, ok := value.(string)
		if !ok {
			return opts, fmt.Errorf("runtime option %q must be a string, got %T", key, value)
		}
		switch key {
		case "virtualenv":
			opts.Virtualenv = text
		case "toolchain":
			switch text {
			case "pip":
				opts.Toolchain = toolchain.Pip
			case "poetry":
				opts.Toolchain = toolchain.Poetry
			case "uv":
				opts.Toolchain = toolchain.Uv
			default:
				return opts, fmt.Errorf("runtime option toolchain=%q: want pip, poetry or uv", text)
			}
		case "typechecker":
			switch text {
			case "mypy":
				opts.Typechecker = toolchain.TypeCheckerMypy
			case "pyright":
				opts.Typechecker = toolchain.TypeCheckerPyright
			default:
				return opts, fmt.Errorf("runtime option typechecker=%q: want mypy or pyright", text)
			}
		default:
			return opts, fmt.Errorf("unknown python runtime option %q (this host knows virtualenv, toolchain, typechecker)",
				key)
		}
	}
	return opts, nil
}
