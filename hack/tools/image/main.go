// Command image builds kelp's OCI image without a container runtime: the
// static binary for each platform on an empty base, written as an OCI
// image layout whose index.json names one multi-platform index.
//
//	cd hack/tools && go run ./image -repo ../.. -out ../../bin/image/kelp -version v0.1.0
//
// Revision and creation time default to HEAD's; the digest depends only on
// the source, the version and the Go toolchain. Push with crane:
//
//	cd hack/tools && go tool crane push ../../bin/image/kelp REGISTRY/kelp:TAG
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o Options
	var out, platforms, created string
	fs.StringVar(&o.RepoRoot, "repo", "../..", "kelp's module root")
	fs.StringVar(&out, "out", "../../bin/image/kelp", "OCI image layout directory to write (replaced)")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	fs.StringVar(&o.Version, "version", "dev", "kelp's version (main.version and the version label)")
	fs.StringVar(&o.Revision, "revision", "", "commit of the source (default: HEAD)")
	fs.StringVar(&o.Source, "source", "https://github.com/kelp-dev/kelp", "the source repository label")
	fs.StringVar(&created, "created", "", "creation time, Unix seconds (default: HEAD's commit time)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Platforms = strings.Split(platforms, ",")
	if o.Revision == "" {
		rev, err := git(o.RepoRoot, "rev-parse", "HEAD")
		if err != nil {
			return err
		}
		o.Revision = rev
	}
	if created == "" {
		ct, err := git(o.RepoRoot, "log", "-1", "--format=%ct", o.Revision)
		if err != nil {
			return err
		}
		created = ct
	}
	secs, err := strconv.ParseInt(created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created %q: want Unix seconds: %w", created, err)
	}
	o.Created = time.Unix(secs, 0).UTC()
	idx, err := Build(o)
	if err != nil {
		return err
	}
	digest, err := Write(out, o.Version, idx)
	if err != nil {
		return err
	}
	fmt.Printf("kelp %s (%s): %s@%s\n", o.Version, platforms, out, digest)
	return nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return trimmed(out), nil
}
