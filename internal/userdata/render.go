package userdata

import (
	"fmt"
)

// MaxUserDataSize is EC2's limit on user-data, in bytes before base64.
const MaxUserDataSize = 16384

// Rendered is a document ready for a launch template.
type Rendered struct {
	// Data is the user-data to send: Document, or its gzip when Document is
	// over MaxUserDataSize. cloud-init detects and inflates gzip itself.
	// Data is raw bytes: base64 it where the EC2 API wants UserData encoded
	// (launch template data).
	Data []byte
	// Gzipped reports whether Data is gzip-compressed.
	Gzipped bool
	// Document is the uncompressed #cloud-config document.
	Document []byte
}

// Build validates in and returns its profile's cloud-config.
func Build(in Input) (CloudConfig, error) {
	if err := in.Validate(); err != nil {
		return CloudConfig{}, fmt.Errorf("invalid user-data input: %w", err)
	}
	var (
		c   CloudConfig
		err error
	)
	switch in.Profile {
	case ProfileKubeadm:
		c, err = buildKubeadm(in)
	case ProfileOpenShift311:
		c, err = buildOpenShift(in)
	case ProfileLocal:
		c, err = buildLocal(in)
	default: // unreachable after Validate
		err = fmt.Errorf("profile %q: not supported", in.Profile)
	}
	if err != nil {
		return CloudConfig{}, fmt.Errorf("build %s user-data for pool %s: %w", in.Profile, in.Pool, err)
	}
	return c, nil
}

// Render builds in's document and fits it into MaxUserDataSize, gzipping it
// when it is larger. It fails, stating both sizes, when even the gzip is
// over the limit. The output is deterministic.
func Render(in Input) (Rendered, error) {
	c, err := Build(in)
	if err != nil {
		return Rendered{}, err
	}
	doc, err := c.Marshal()
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s user-data for pool %s: %w", in.Profile, in.Pool, err)
	}
	r, err := fit(doc)
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s user-data for pool %s: %w", in.Profile, in.Pool, err)
	}
	return r, nil
}

// fit returns doc as user-data within MaxUserDataSize.
func fit(doc []byte) (Rendered, error) {
	if len(doc) <= MaxUserDataSize {
		return Rendered{Data: doc, Document: doc}, nil
	}
	gz, err := gzipBytes(doc)
	if err != nil {
		return Rendered{}, fmt.Errorf("gzip user-data: %w", err)
	}
	if len(gz) > MaxUserDataSize {
		return Rendered{}, fmt.Errorf("user-data is %d bytes, %d bytes gzipped: over the EC2 limit of %d bytes "+
			"(shrink the registry credentials, labels or taints)", len(doc), len(gz), MaxUserDataSize)
	}
	return Rendered{Data: gz, Gzipped: true, Document: doc}, nil
}
