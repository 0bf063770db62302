package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

var testOptions = Options{
	RepoRoot:  "../../..",
	Platforms: []string{"linux/amd64", "linux/arm64"},
	Version:   "v0.0.0-imagetest",
	Revision:  "0123456789abcdef0123456789abcdef01234567",
	Source:    "https://github.com/kelp-dev/kelp",
	Created:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
}

// TestImage builds the image twice (the second build comes from Go's build
// cache), checks the digests match, then opens the written layout and
// checks each platform's config and binary: the host's runs `kelp
// version`, the others' ELF headers name their machine.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Fatalf("the image test runs the linux binary: needs linux, not %s", runtime.GOOS)
	}
	first, err := Build(testOptions)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	digest, err := Write(dir, testOptions.Version, first)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(testOptions)
	if err != nil {
		t.Fatal(err)
	}
	if d2, err := second.Digest(); err != nil || d2 != digest {
		t.Fatalf("second build: digest %v (%v), first %v: the image is not reproducible", d2, err, digest)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil || len(tm.Manifests) != 1 || tm.Manifests[0].Digest != digest ||
		tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != testOptions.Version {
		t.Fatalf("layout index.json: %+v %v, want one entry %s named %s", tm, err, digest, testOptions.Version)
	}
	idx, err := top.ImageIndex(digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var archs []string
	for _, desc := range im.Manifests {
		archs = append(archs, desc.Platform.Architecture)
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkConfig(t, img, desc.Platform)
		bin := extractBinary(t, img)
		checkBinary(t, bin, desc.Platform.Architecture)
	}
	if !slices.Equal(archs, []string{"amd64", "arm64"}) {
		t.Errorf("index platforms %v, want amd64 and arm64", archs)
	}
}

func checkConfig(t *testing.T, img v1.Image, platform *v1.Platform) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/kelp"}) || !slices.Equal(c.Cmd, []string{"controller"}) {
		t.Errorf("%s: user %q entrypoint %q cmd %q, want 65532:65532 [/kelp] [controller]", platform, c.User, c.Entrypoint, c.Cmd)
	}
	if cf.OS != "linux" || cf.Architecture != platform.Architecture || !cf.Created.Time.Equal(testOptions.Created) {
		t.Errorf("%s: config says %s/%s created %v", platform, cf.OS, cf.Architecture, cf.Created)
	}
	want := map[string]string{
		"org.opencontainers.image.version":  testOptions.Version,
		"org.opencontainers.image.revision": testOptions.Revision,
		"org.opencontainers.image.source":   testOptions.Source,
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("%s: label %s=%q, want %q", platform, k, c.Labels[k], v)
		}
	}
	// Nothing of the build host's environment, secrets least of all.
	if len(c.Env) != 0 {
		t.Errorf("%s: env %q, want none", platform, c.Env)
	}
}

// extractBinary returns /kelp from img's only layer, checking it is all
// the image holds: no /etc/passwd, no shell.
func extractBinary(t *testing.T, img v1.Image) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var bin []byte
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name != "kelp" {
			t.Errorf("unexpected file %s in the image", hdr.Name)
			continue
		}
		if hdr.Mode != 0o555 || hdr.Uid != 0 || !hdr.ModTime.Equal(testOptions.Created) {
			t.Errorf("/kelp: mode %o uid %d mtime %v", hdr.Mode, hdr.Uid, hdr.ModTime)
		}
		if bin, err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	if bin == nil {
		t.Fatal("no /kelp in the image")
	}
	return bin
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkBinary checks the ELF header (machine, static: no interpreter) and
// runs the host's binary.
func checkBinary(t *testing.T, bin []byte, arch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("%s binary: %v", arch, err)
	}
	if f.Machine != elfMachine[arch] || f.Class != elf.ELFCLASS64 {
		t.Errorf("%s binary: machine %v class %v, want %v", arch, f.Machine, f.Class, elfMachine[arch])
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s binary has an interpreter: not static", arch)
		}
	}
	if arch != runtime.GOARCH {
		return
	}
	path := filepath.Join(t.TempDir(), "kelp")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("kelp version: %v\n%s", err, out)
	}
	if want := "kelp " + testOptions.Version + " (go"; !strings.HasPrefix(string(out), want) || !strings.Contains(string(out), "linux/"+arch) {
		t.Errorf("kelp version printed %q, want %q... linux/%s", out, want, arch)
	}
}
