package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// identityProfiles are the profiles that render the identity join.
var identityProfiles = []Profile{ProfileKubeadm, ProfileLocal}

// testIdentity is a complete identity join built from testdata's CAs.
func testIdentity(t *testing.T) *IdentityJoin {
	t.Helper()
	return &IdentityJoin{
		Endpoint:   "https://kelp-join.example.com:30443",
		EndpointCA: readTestdata(t, "join-ca.crt"),
		Server:     "https://api.example.com:6443",
		ServerCA:   readTestdata(t, "server-ca.crt"),
	}
}

// testIdentityInput is testInput's identity-mode twin: the same pool,
// labels and taints, an identity join and nothing secret.
func testIdentityInput(t *testing.T, profile Profile) Input {
	t.Helper()
	in := testInput(t, profile)
	in.BootstrapKubeconfig, in.RegistryAuth = nil, nil
	in.Identity = testIdentity(t)
	return in
}

func TestIdentityGolden(t *testing.T) {
	for _, p := range identityProfiles {
		t.Run(string(p), func(t *testing.T) {
			in := testIdentityInput(t, p)
			if p == ProfileLocal {
				// A local cloud's endpoints, as kelp up gives them.
				in.Identity.STSEndpoint, in.Identity.MetadataEndpoint = "http://127.0.0.1:4566", "http://127.0.0.1:4567"
			}
			r, err := Render(in)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			path := filepath.Join("testdata", string(p)+"-identity.golden")
			if *update {
				if err := os.WriteFile(path, r.Data, 0o644); err != nil {
					t.Fatalf("update golden: %v", err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test -run TestIdentityGolden -update to create it): %v", err)
			}
			if !bytes.Equal(r.Data, want) {
				t.Errorf("%s differs from the rendered output (run go test -run TestIdentityGolden -update and review the diff)\ngot:\n%s", path, r.Data)
			}
		})
	}
}

// secretPatterns are what a credential in user-data looks like: a
// bootstrap token, a kubeconfig's token or client key, a private key, AWS
// access key ids, passwords and registry credentials.
var secretPatterns = map[string]*regexp.Regexp{
	"bootstrap token":      regexp.MustCompile(`[a-z0-9]{6}\.[a-z0-9]{16}`),
	"token:":               regexp.MustCompile(`(?i)token:`),
	"client-key":           regexp.MustCompile(`(?i)client-key`),
	"private key":          regexp.MustCompile(`PRIVATE KEY`),
	"AWS access key id":    regexp.MustCompile(`(AKIA|ASIA)[A-Z0-9]{16}`),
	"password":             regexp.MustCompile(`(?i)password`),
	"registry credentials": regexp.MustCompile(`(?i)"?auths"?\s*:`),
}

// secretsIn returns what secretPatterns find in user-data: in its bytes,
// its gunzip when gzipped, and the decoded content of every file it
// writes (base64 hides a token from a scan of the document alone).
func secretsIn(t *testing.T, data []byte) []string {
	t.Helper()
	parts := [][]byte{data}
	if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
		doc, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gunzip user-data: %v", err)
		}
		parts = append(parts, doc)
	}
	c, err := Decode(data)
	if err != nil {
		t.Fatalf("decode user-data: %v", err)
	}
	for _, f := range c.WriteFiles {
		raw, err := f.Data()
		if err != nil {
			t.Fatalf("file %s: %v", f.Path, err)
		}
		parts = append(parts, raw)
		// A file holding base64 of its own (kubeconfig CA or key data).
		for _, m := range regexp.MustCompile(`[A-Za-z0-9+/]{40,}={0,2}`).FindAll(raw, -1) {
			if dec, err := base64.StdEncoding.DecodeString(string(m)); err == nil {
				parts = append(parts, dec)
			}
		}
	}
	var found []string
	for _, p := range parts {
		for name, re := range secretPatterns {
			if m := re.Find(p); m != nil {
				found = append(found, name+" ("+string(m)+")")
			}
		}
	}
	return found
}

// TestIdentityUserDataCarriesNoSecret is the test: rendered
// identity-mode user-data, of every profile that supports it, with and
// without the optional endpoints, gzipped or not, holds no credential of
// any kind. The same scan finds the token-mode document's secrets, so it
// is not blind.
func TestIdentityUserDataCarriesNoSecret(t *testing.T) {
	for _, p := range identityProfiles {
		for _, variant := range []string{"plain", "endpoints", "gzipped"} {
			t.Run(string(p)+"/"+variant, func(t *testing.T) {
				in := testIdentityInput(t, p)
				switch variant {
				case "endpoints":
					in.Identity.STSEndpoint, in.Identity.MetadataEndpoint = "https://sts.us-east-1.amazonaws.com", "http://169.254.169.254"
				case "gzipped":
					in.Taints = bigTaints(200)
				}
				r, err := Render(in)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if variant == "gzipped" && !r.Gzipped {
					t.Fatalf("want a gzipped document (%d bytes)", len(r.Document))
				}
				if found := secretsIn(t, r.Data); len(found) > 0 {
					t.Errorf("identity-mode user-data carries secrets: %s", strings.Join(found, "; "))
				}
				if _, _, err := BootstrapToken(mustDecode(t, r.Data)); err == nil {
					t.Error("identity-mode user-data has a bootstrap kubeconfig with a token")
				}
			})
		}
	}
	for _, p := range Profiles() {
		r, err := Render(testInput(t, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		found := strings.Join(secretsIn(t, r.Data), "; ")
		for _, want := range []string{"bootstrap token", "token:", "registry credentials"} {
			if !strings.Contains(found, want) {
				t.Errorf("%s token mode: the scan misses the %s (found %q)", p, want, found)
			}
		}
	}
}

func bigTaints(n int) []corev1.Taint {
	out := make([]corev1.Taint, n)
	for i := range out {
		out[i] = corev1.Taint{Key: "example.com/t" + strings.Repeat("x", 40) + string(rune('a'+i%26)) + strings.Repeat("y", i%7) + strconv.Itoa(i),
			Value: strings.Repeat("v", 50), Effect: corev1.TaintEffectNoSchedule}
	}
	return out
}

func mustDecode(t *testing.T, data []byte) CloudConfig {
	t.Helper()
	c, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIdentityValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Input)
		want   []string
	}{
		{"bootstrap kubeconfig too", func(in *Input) { in.BootstrapKubeconfig = readTestdata(t, "bootstrap-kubeconfig.yaml") },
			[]string{"bootstrapKubeconfig: Forbidden", "carries no bootstrap kubeconfig"}},
		{"registry credentials", func(in *Input) { in.RegistryAuth = readTestdata(t, "registry-auth.json") },
			[]string{"registryAuth: Forbidden", "registry credentials are a secret"}},
		{"openshift-3.11", func(in *Input) {
			in.Profile, in.Labels, in.Taints, in.Region = ProfileOpenShift311, nil, nil, "us-east-1"
		},
			[]string{"identity: Forbidden", "openshift-3.11 cannot run `kelp join`"}},
		{"no endpoint", func(in *Input) { in.Identity.Endpoint = "" }, []string{"identity.endpoint: Required"}},
		{"plain http endpoint", func(in *Input) { in.Identity.Endpoint = "http://kelp:30443" }, []string{"identity.endpoint.scheme", `"http"`}},
		{"no server CA", func(in *Input) { in.Identity.ServerCA = nil }, []string{"identity.serverCA: Required"}},
		{"endpoint CA not PEM", func(in *Input) { in.Identity.EndpointCA = []byte("nope") }, []string{"identity.endpointCA: Invalid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testIdentityInput(t, ProfileKubeadm)
			tc.change(&in)
			_, err := Render(in)
			if err == nil {
				t.Fatal("Render accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestLocalJoinConfig: the local profile writes a JoinConfig the node
// agent parses back to the identity join, and no bootstrap kubeconfig.
func TestLocalJoinConfig(t *testing.T) {
	in := testIdentityInput(t, ProfileLocal)
	in.Identity.STSEndpoint = "http://127.0.0.1:4566"
	r, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range mustDecode(t, r.Data).WriteFiles {
		files[f.Path], _ = f.Data()
	}
	if _, ok := files[LocalBootstrapKubeconfigPath]; ok {
		t.Errorf("identity mode writes %s", LocalBootstrapKubeconfigPath)
	}
	c, err := ParseJoinConfig(files[LocalJoinConfigPath])
	if err != nil {
		t.Fatalf("ParseJoinConfig: %v", err)
	}
	got, _ := yaml.Marshal(c.IdentityJoin)
	want, _ := yaml.Marshal(*in.Identity)
	if !bytes.Equal(got, want) {
		t.Errorf("join config = %s, want %s", got, want)
	}
}

func TestParseJoinConfigRefuses(t *testing.T) {
	id := testIdentity(t)
	good, err := yaml.Marshal(JoinConfig{APIVersion: NodeConfigAPIVersion, Kind: JoinConfigKind, IdentityJoin: *id})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown field", string(good) + "token: abcdef.0123456789abcdef\n", `unknown field "token"`},
		{"wrong kind", strings.Replace(string(good), "kind: JoinConfig", "kind: NodeConfig", 1), "kind: Unsupported value"},
		{"no endpoint", strings.Replace(string(good), "endpoint: https://kelp-join.example.com:30443", "endpoint: \"\"", 1), "endpoint: Required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJoinConfig([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
