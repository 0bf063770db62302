package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the image's user and group: numeric, so the image needs no
// /etc/passwd, and not root (65532 is distroless's "nonroot").
const User = "65532:65532"

// Options say what to build. Everything that lands in the image comes from
// them and the source tree, never from the clock or the build host, so two
// builds of one commit give one digest.
type Options struct {
	// RepoRoot is kelp's module root; the binary is built from ./cmd/kelp.
	RepoRoot string
	// Platforms are os/arch pairs, e.g. linux/amd64.
	Platforms []string
	Version   string // main.version and org.opencontainers.image.version
	Revision  string // the commit: org.opencontainers.image.revision
	Source    string // org.opencontainers.image.source
	// Created is the commit time: the image's and the layer's timestamps.
	Created time.Time
}

// Build builds kelp for every platform and returns the multi-platform
// index.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Platforms) == 0 {
		return nil, fmt.Errorf("no platforms to build")
	}
	tmp, err := os.MkdirTemp("", "kelp-image-")
	if err != nil {
		return nil, fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range o.Platforms {
		platform, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", p, err)
		}
		if platform.OS != "linux" || platform.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want linux/ARCH", p)
		}
		bin := filepath.Join(tmp, platform.Architecture, "kelp")
		if err := buildBinary(o, platform.Architecture, bin); err != nil {
			return nil, err
		}
		img, err := image(o, platform, bin)
		if err != nil {
			return nil, fmt.Errorf("image for %s: %w", p, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: platform}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, labels(o)).(v1.ImageIndex), nil
}

// buildBinary builds a static kelp for arch, without the build host's
// paths (-trimpath), VCS stamp or C toolchain.
func buildBinary(o Options, arch, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version="+o.Version, "-o", out, "./cmd/kelp")
	cmd.Dir = o.RepoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=", "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build kelp for linux/%s: %w", arch, err)
	}
	return nil
}

func labels(o Options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "kelp",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.created":  o.Created.UTC().Format(time.RFC3339),
	}
}

// image is one platform's image: an empty base, one layer holding /kelp.
func image(o Options, platform *v1.Platform, bin string) (v1.Image, error) {
	layer, err := binaryLayer(bin, o.Created)
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: []string{"/kelp"},
		Cmd:        []string{"controller"},
		WorkingDir: "/",
		Labels:     labels(o),
	}
	base, err = mutate.ConfigFile(base, cf)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: o.Created.UTC()}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: created, CreatedBy: "hack/tools/image: kelp " + o.Version, Comment: "static kelp binary"}})
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, created)
}

// binaryLayer is a gzipped tar of /kelp, owned by root, executable by all,
// stamped with the commit time.
func binaryLayer(bin string, mtime time.Time) (v1.Layer, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read the built binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "kelp", Mode: 0o555, Size: int64(len(data)),
		ModTime: mtime.UTC(), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	tarData := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarData)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// Write writes idx as an OCI image layout at dir (replaced), whose
// index.json names idx with ref, and returns idx's digest.
func Write(dir, ref string, idx v1.ImageIndex) (v1.Hash, error) {
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, fmt.Errorf("remove old layout %s: %w", dir, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("create layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
	})); err != nil {
		return v1.Hash{}, fmt.Errorf("write index to %s: %w", dir, err)
	}
	return idx.Digest()
}

// trimmed is s without surrounding space (git output).
func trimmed(b []byte) string { return strings.TrimSpace(string(b)) }
