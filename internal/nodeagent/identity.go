package nodeagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/renameio/v2"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// IdentityPath is where the instance identity document lives under an
// agent's root directory.
const IdentityPath = "/run/kelp/instance-identity.json"

// Lifecycle values of InstanceIdentity.Lifecycle; they match the
// kelp.dev/capacity-type label values.
const (
	LifecycleSpot     = string(catalog.CapacityTypeSpot)
	LifecycleOnDemand = string(catalog.CapacityTypeOnDemand)
)

// InstanceIdentity is the stand-in for EC2 instance metadata: the fields of
// EC2's instance identity document a kubelet needs, plus the private DNS
// name and lifecycle, which EC2 serves from other metadata paths. The JSON
// names follow EC2's document, so a real one parses (unknown fields are
// ignored).
type InstanceIdentity struct {
	InstanceID       string `json:"instanceId"`
	InstanceType     string `json:"instanceType"`
	AvailabilityZone string `json:"availabilityZone"`
	Region           string `json:"region"`
	// PrivateIP is the instance's private IPv4 address; the agent listens
	// on it. Locally it is a loopback address such as 127.0.1.5.
	PrivateIP string `json:"privateIp"`
	// PrivateDNSName is the node name, e.g. ip-10-0-1-5.ec2.internal.
	PrivateDNSName string `json:"privateDnsName"`
	// Lifecycle is LifecycleSpot or LifecycleOnDemand.
	Lifecycle string `json:"lifecycle"`
	ImageID   string `json:"imageId"`
}

var (
	instanceIDRE = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	imageIDRE    = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	zoneSuffixRE = regexp.MustCompile(`^[a-z]$|^-[a-z0-9]+(-[a-z0-9]+)*[a-z]$`)
)

// Validate returns every problem with id, each naming its JSON field, or
// nil. The instance type must exist in package catalog.
func (id InstanceIdentity) Validate() error {
	var errs []error
	check := func(field, value string, ok bool, want string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s %q: %s", field, value, want))
		}
	}
	check("instanceId", id.InstanceID, instanceIDRE.MatchString(id.InstanceID), "must look like i-0123456789abcdef0")
	if _, err := catalog.Lookup(id.InstanceType); err != nil {
		errs = append(errs, fmt.Errorf("instanceType %q: %w", id.InstanceType, catalog.ErrUnknownInstanceType))
	}
	check("region", id.Region, regionRE.MatchString(id.Region), "must be an AWS region such as us-east-1")
	suffix, inRegion := strings.CutPrefix(id.AvailabilityZone, id.Region)
	check("availabilityZone", id.AvailabilityZone, id.Region != "" && inRegion && zoneSuffixRE.MatchString(suffix),
		fmt.Sprintf("must be a zone of region %q, such as %sa", id.Region, id.Region))
	ip, err := netip.ParseAddr(id.PrivateIP)
	check("privateIp", id.PrivateIP, err == nil && ip.Is4(), "must be an IPv4 address")
	msgs := validation.IsDNS1123Subdomain(id.PrivateDNSName)
	check("privateDnsName", id.PrivateDNSName, len(msgs) == 0, "must be a lower-case DNS name (it is the node name): "+strings.Join(msgs, "; "))
	check("lifecycle", id.Lifecycle, id.Lifecycle == LifecycleSpot || id.Lifecycle == LifecycleOnDemand,
		fmt.Sprintf("must be %q or %q", LifecycleSpot, LifecycleOnDemand))
	check("imageId", id.ImageID, imageIDRE.MatchString(id.ImageID), "must look like ami-0123456789abcdef0")
	return errors.Join(errs...)
}

// addr returns the parsed private IP; call only on a validated identity.
func (id InstanceIdentity) addr() netip.Addr {
	ip, _ := netip.ParseAddr(id.PrivateIP)
	return ip
}

// WriteIdentity validates id and writes it to root/IdentityPath (mode
// 0644), creating directories as needed. The file is replaced atomically.
func WriteIdentity(root string, id InstanceIdentity) error {
	path := filepath.Join(root, IdentityPath)
	if err := id.Validate(); err != nil {
		return fmt.Errorf("write instance identity %s: %w", path, err)
	}
	data, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return fmt.Errorf("write instance identity %s: %w", path, err)
	}
	if err := writeFileAtomic(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write instance identity: %w", err)
	}
	return nil
}

// ReadIdentity reads and validates root/IdentityPath.
func ReadIdentity(root string) (InstanceIdentity, error) {
	path := filepath.Join(root, IdentityPath)
	data, err := os.ReadFile(path)
	if err != nil {
		return InstanceIdentity{}, fmt.Errorf("read instance identity: %w", err)
	}
	var id InstanceIdentity
	if err := json.Unmarshal(data, &id); err != nil {
		return InstanceIdentity{}, fmt.Errorf("parse instance identity %s: %w", path, err)
	}
	if err := id.Validate(); err != nil {
		return InstanceIdentity{}, fmt.Errorf("invalid instance identity %s: %w", path, err)
	}
	return id, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory and a rename, creating the directory (0755) when missing.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(perm))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer t.Cleanup() // no-op after the rename
	if _, err := t.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
