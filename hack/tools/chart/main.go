// Command chart lints kelp's Helm chart and renders it with Helm v4, run
// in-process (the helm CLI's own commands), into the files the repository
// keeps and into a directory of renders:
//
//	cd hack/tools && go run ./chart -out ../../bin/chart
//
// writes deploy/controller.yaml (the chart with ci/example-values.yaml)
// and deploy/testdata/chart-all.yaml (with ci/all-values.yaml, which sets
// every flag of `kelp controller`); -check fails instead when they are out
// of date.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
)

// Release and Namespace are those of the kept renders: `helm install kelp
// -n kube-system`.
const (
	Release   = "kelp"
	Namespace = "kube-system"
)

// A Render is a values file of the chart's ci/ directory and the kept file
// rendered from it, both relative to the repository root.
type Render struct {
	Values, Out, Header string
}

// Renders are the files kept in the repository.
var Renders = []Render{
	{Values: "deploy/chart/kelp/ci/example-values.yaml", Out: "deploy/controller.yaml", Header: `# kelp controller in a cluster, rendered from deploy/chart/kelp by
# ` + "`make chart`" + ` (do not edit: change the chart). Replace CLUSTER, REGION and
# the image; give the pod AWS credentials with the controller policy of
# docs/aws.md. Prefer ` + "`helm install`" + ` (README.md, "On AWS").
`},
	{Values: "deploy/chart/kelp/ci/all-values.yaml", Out: "deploy/testdata/chart-all.yaml", Header: `# deploy/chart/kelp rendered with ci/all-values.yaml by ` + "`make chart`" + `:
# deploy's tests apply it and parse its args with kelp controller's flags.
`},
}

// KubeVersion is the Kubernetes version renders and lint assume: that of
// the test control plane (hack/controlplane/VERSION), so a render does not
// depend on how Helm was built (a test binary's Helm would assume 1.20).
const KubeVersion = "v1.37.2"

// ChartDir is the chart, relative to the repository root.
const ChartDir = "deploy/chart/kelp"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("chart", flag.ContinueOnError)
	root := fs.String("repo", "../..", "kelp's repository root")
	out := fs.String("out", "../../bin/chart", "directory for the packaged chart and the renders")
	check := fs.Bool("check", false, "fail when a kept render is out of date instead of writing it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	chart := filepath.Join(*root, ChartDir)
	for _, r := range Renders {
		if _, err := Helm("lint", "--strict", chart, "--namespace", Namespace, "--kube-version", KubeVersion, "-f", filepath.Join(*root, r.Values)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	if _, err := Helm("package", chart, "--destination", *out); err != nil {
		return err
	}
	var stale []string
	for _, r := range Renders {
		got, err := RenderFile(*root, r)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, filepath.Base(r.Out)), got, 0o644); err != nil {
			return err
		}
		path := filepath.Join(*root, r.Out)
		if *check {
			if kept, err := os.ReadFile(path); err != nil || !bytes.Equal(kept, got) {
				stale = append(stale, r.Out)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("%s out of date: run `make chart`", strings.Join(stale, ", "))
	}
	fmt.Printf("chart linted and rendered into %s\n", *out)
	return nil
}

// RenderFile is the kept file of r: its header and the chart rendered with
// r's values.
func RenderFile(root string, r Render) ([]byte, error) {
	manifest, err := Template(filepath.Join(root, ChartDir), "-f", filepath.Join(root, r.Values))
	if err != nil {
		return nil, err
	}
	return append([]byte(r.Header), manifest...), nil
}

// Template renders the chart as release kelp in kube-system, with extra
// helm template arguments (values).
func Template(chart string, extra ...string) ([]byte, error) {
	args := append([]string{"template", Release, chart, "--namespace", Namespace, "--kube-version", KubeVersion}, extra...)
	return Helm(args...)
}

// Helm runs the helm CLI's command in this process and returns what it
// printed.
func Helm(args ...string) ([]byte, error) {
	var out bytes.Buffer
	cmd, err := helmcmd.NewRootCmd(&out, args, helmcmd.SetupLogging)
	if err != nil {
		return nil, fmt.Errorf("helm %s: %w", strings.Join(args, " "), err)
	}
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage = true
	if err := cmd.Execute(); err != nil {
		return nil, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.Bytes(), nil
}
