package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strconv"

	"sigs.k8s.io/yaml"
)

// Header is the first line of every cloud-config document.
const Header = "#cloud-config"

// MaxDecodedSize bounds how much Decode inflates gzip-compressed user-data.
const MaxDecodedSize = 1 << 20

// Permissions used for written files.
const (
	PermSecret = "0600" // credentials: kubeconfigs, registry auth
	PermPublic = "0644" // everything else
)

// CloudConfig is the part of cloud-init's #cloud-config schema kelp uses.
// Other keys are ignored by Decode.
type CloudConfig struct {
	// WriteFiles are written, in order, before RunCmd runs.
	WriteFiles []File `json:"write_files,omitempty"`
	// RunCmd runs once, in order, at the end of first boot.
	RunCmd []Command `json:"runcmd,omitempty"`
}

// File is a write_files entry.
type File struct {
	Path string `json:"path"`
	// Content is base64 when Encoding is "b64" (what kelp writes).
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"`
	// Owner is "user:group", e.g. "root:root".
	Owner string `json:"owner,omitempty"`
	// Permissions is an octal string, e.g. "0600".
	Permissions string `json:"permissions,omitempty"`
}

// newFile returns a root-owned file entry holding data base64-encoded.
func newFile(path string, data []byte, perm string) File {
	return File{
		Path:        path,
		Content:     base64.StdEncoding.EncodeToString(data),
		Encoding:    "b64",
		Owner:       "root:root",
		Permissions: perm,
	}
}

// Data returns the file's decoded content. Encodings "b64"/"base64" and
// plain text are supported; gzip encodings are not (kelp never writes them).
func (f File) Data() ([]byte, error) {
	switch f.Encoding {
	case "", "text/plain":
		return []byte(f.Content), nil
	case "b64", "base64":
		data, err := base64.StdEncoding.DecodeString(f.Content)
		if err != nil {
			return nil, fmt.Errorf("file %s: decode content: %w", f.Path, err)
		}
		return data, nil
	default:
		return nil, fmt.Errorf("file %s: unsupported encoding %q", f.Path, f.Encoding)
	}
}

// Mode returns Permissions as a file mode; cloud-init's default 0644 when
// empty.
func (f File) Mode() (fs.FileMode, error) {
	if f.Permissions == "" {
		return 0o644, nil
	}
	m, err := strconv.ParseUint(f.Permissions, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("file %s: permissions %q: not an octal mode", f.Path, f.Permissions)
	}
	return fs.FileMode(m), nil
}

// File returns the write_files entry for path.
func (c CloudConfig) File(path string) (File, bool) {
	for _, f := range c.WriteFiles {
		if f.Path == path {
			return f, true
		}
	}
	return File{}, false
}

// Command is a runcmd entry: an argv list run without a shell, or, when Argv
// is nil, a Shell string run by /bin/sh.
type Command struct {
	Argv  []string
	Shell string
}

// Argv returns a Command running argv without a shell.
func Argv(argv ...string) Command { return Command{Argv: argv} }

// MarshalJSON writes an argv list, or the shell string when Argv is nil.
func (c Command) MarshalJSON() ([]byte, error) {
	if c.Argv != nil {
		return json.Marshal(c.Argv)
	}
	return json.Marshal(c.Shell)
}

// UnmarshalJSON accepts a list of strings or a string.
func (c *Command) UnmarshalJSON(data []byte) error {
	var argv []string
	if err := json.Unmarshal(data, &argv); err == nil && argv != nil {
		*c = Command{Argv: argv}
		return nil
	}
	var shell string
	if err := json.Unmarshal(data, &shell); err != nil {
		return fmt.Errorf("runcmd entry %s: want a list of strings or a string", data)
	}
	*c = Command{Shell: shell}
	return nil
}

// Marshal returns the document: Header, a newline, then c as YAML with
// sorted keys.
func (c CloudConfig) Marshal() ([]byte, error) {
	body, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("marshal cloud-config: %w", err)
	}
	return append([]byte(Header+"\n"), body...), nil
}

// Decode parses user-data produced by Render: a #cloud-config document,
// possibly gzip-compressed (inflated up to MaxDecodedSize).
func Decode(data []byte) (CloudConfig, error) {
	if isGzip(data) {
		var err error
		if data, err = gunzip(data); err != nil {
			return CloudConfig{}, fmt.Errorf("decode user-data: %w", err)
		}
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if string(bytes.TrimRight(first, " \t\r")) != Header {
		return CloudConfig{}, fmt.Errorf("decode user-data: first line must be %q", Header)
	}
	var c CloudConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		return CloudConfig{}, fmt.Errorf("decode user-data: %w", err)
	}
	return c, nil
}

func isGzip(data []byte) bool {
	return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxDecodedSize+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	if len(out) > MaxDecodedSize {
		return nil, fmt.Errorf("gunzip: inflates to more than %d bytes", MaxDecodedSize)
	}
	return out, nil
}

func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
