// Package houserules checks the rules of the house (DESIGN.md, STYLE.md)
// that review alone lets slip: the direction of imports (decision cores
// import no client, SDK or clock of the real world; only composition roots
// reach the AWS adapter and the local cloud; nothing imports upwards) and
// the size of files and functions, a package named as its directory. A new
// package falls under the rules by where it lives.
package houserules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/kelp-dev/kelp"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Name       string
	Imports    []string // direct, non-test
	Deps       []string // transitive, non-test
}

// rule forbids packages matching From to import packages matching Forbidden,
// directly or (Transitive) through any other package.
type rule struct {
	Name       string
	From       []string // patterns: a path, or a path ending in /... for it and everything under it
	Except     []string // From packages the rule does not apply to
	Forbidden  []string
	Transitive bool
}

var (
	// cores decide: plain values in, decisions out.
	cores = []string{
		"internal/simulator", "internal/autoscaler", "internal/autoscaler/scenario",
		"internal/catalog", "internal/cloud", "internal/clusterview",
	}
	// roots compose: they may reach every edge.
	roots = []string{"cmd/...", "internal/cli", "internal/localup", "internal/controller", "test/..."}
)

var rules = []rule{
	{
		Name: "decision cores import no client, SDK, metrics or local cloud",
		From: cores,
		Forbidden: []string{
			"k8s.io/client-go/...", "github.com/aws/...", "github.com/prometheus/...",
			"internal/cloud/aws", "internal/localcloud/...", "internal/controlplane",
		},
		Transitive: true,
	},
	{
		Name:      "only composition roots import the AWS adapter",
		From:      []string{"internal/..."},
		Except:    append([]string{"internal/cloud/aws"}, roots...),
		Forbidden: []string{"internal/cloud/aws"},
	},
	{
		Name: "only composition roots and the adapter import the AWS SDK",
		From: []string{"internal/..."},
		// internal/interruption speaks SQS and EventBridge, which no cloud
		// interface abstracts; roots give it clients built from the
		// adapter's one SDK config loader.
		Except:    append([]string{"internal/cloud/aws", "internal/interruption", "internal/localcloud/...", "internal/nodeagent"}, roots...),
		Forbidden: []string{"github.com/aws/..."},
	},
	{
		Name:       "controllers and cores never reach the local cloud or the control plane",
		From:       []string{"internal/..."},
		Except:     append([]string{"internal/localcloud/...", "internal/controlplane", "internal/testenv"}, roots...),
		Forbidden:  []string{"internal/localcloud/...", "internal/controlplane"},
		Transitive: true,
	},
	{
		Name:       "nothing imports a composition root",
		From:       []string{"internal/..."},
		Except:     []string{"internal/cli", "internal/localup"},
		Forbidden:  []string{"internal/cli", "internal/localup", "internal/controller"},
		Transitive: true,
	},
	{
		Name:       "the local cloud does not import kelp's controllers",
		From:       []string{"internal/localcloud/..."},
		Forbidden:  []string{"internal/approver", "internal/autoscaler/...", "internal/controller", "internal/cloud/aws"},
		Transitive: true,
	},
}

// match reports whether import path p (full) matches pattern (relative to
// the module unless it contains a dot in its first element).
func match(pattern, p string) bool {
	if first, _, _ := strings.Cut(pattern, "/"); !strings.Contains(first, ".") {
		pattern = path.Join(module, pattern)
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == pattern
}

func matchAny(patterns []string, p string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, p) })
}

// violations returns every import the rules forbid, one line each.
func violations(pkgs []pkg, rules []rule) []string {
	var out []string
	for _, r := range rules {
		for _, p := range pkgs {
			if !matchAny(r.From, p.ImportPath) || matchAny(r.Except, p.ImportPath) {
				continue
			}
			imports := p.Imports
			if r.Transitive {
				imports = p.Deps
			}
			for _, imp := range imports {
				if matchAny(r.Forbidden, imp) {
					out = append(out, fmt.Sprintf("%s imports %s: %s", p.ImportPath, imp, r.Name))
				}
			}
		}
	}
	return out
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportDirection(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, v := range violations(pkgs, rules) {
		t.Error(v)
	}
}

// TestPackageNamedAsDirectory: a package's name is its directory's, so an
// import reads as the path it comes from (commands are package main).
func TestPackageNamedAsDirectory(t *testing.T) {
	for _, p := range listPackages(t) {
		if want := path.Base(p.ImportPath); p.Name != want && p.Name != "main" {
			t.Errorf("%s is package %s, want %s", p.ImportPath, p.Name, want)
		}
	}
}

// TestRulesCatchViolations shows each rule fails on the import it forbids,
// so a rule that matches nothing (a typo, a moved package) is noticed.
func TestRulesCatchViolations(t *testing.T) {
	m := func(s string) string { return path.Join(module, s) }
	cases := []struct {
		from, imp  string
		transitive bool
	}{
		{m("internal/simulator"), "k8s.io/client-go/kubernetes", true},
		{m("internal/autoscaler"), m("internal/cloud/aws"), true},
		{m("internal/cloud"), "github.com/aws/aws-sdk-go-v2/aws", true},
		{m("internal/approver"), m("internal/cloud/aws"), false},
		{m("internal/autoscaler/loop"), "github.com/aws/aws-sdk-go-v2/service/autoscaling", false},
		{m("internal/approver"), m("internal/localcloud"), true},
		{m("internal/pool"), m("internal/cli"), true},
		{m("internal/localcloud"), m("internal/approver"), true},
	}
	for _, c := range cases {
		p := pkg{ImportPath: c.from, Imports: []string{c.imp}, Deps: []string{c.imp}}
		if !c.transitive {
			p.Deps = nil
		}
		if got := violations([]pkg{p}, rules); len(got) == 0 {
			t.Errorf("%s importing %s: no rule caught it", c.from, c.imp)
		}
	}
	fine := pkg{ImportPath: m("internal/controller"), Imports: []string{m("internal/cloud/aws")}, Deps: []string{m("internal/cloud/aws")}}
	if got := violations([]pkg{fine}, rules); len(got) != 0 {
		t.Errorf("the composition root may import the adapter, got %v", got)
	}
}
