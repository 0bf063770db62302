package nodeagent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func validIdentity() InstanceIdentity {
	return InstanceIdentity{
		InstanceID:       "i-0123456789abcdef0",
		InstanceType:     "m5.large",
		AvailabilityZone: "us-east-1a",
		Region:           "us-east-1",
		PrivateIP:        "127.0.1.5",
		PrivateDNSName:   "ip-127-0-1-5.ec2.internal",
		Lifecycle:        LifecycleSpot,
		ImageID:          "ami-0123456789abcdef0",
	}
}

func TestIdentityValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*InstanceIdentity)
		want   []string // substrings of the error; none means valid
	}{
		{"valid", func(*InstanceIdentity) {}, nil},
		{"short instance id", func(id *InstanceIdentity) { id.InstanceID = "i-12345678" }, nil},
		{"local zone", func(id *InstanceIdentity) { id.Region, id.AvailabilityZone = "us-west-2", "us-west-2-lax-1a" }, nil},
		{"on-demand", func(id *InstanceIdentity) { id.Lifecycle = LifecycleOnDemand }, nil},
		{"bad instance id", func(id *InstanceIdentity) { id.InstanceID = "vm-1" }, []string{"instanceId"}},
		{"unknown type", func(id *InstanceIdentity) { id.InstanceType = "m9.huge" }, []string{"instanceType", "unknown instance type"}},
		{"zone of another region", func(id *InstanceIdentity) { id.AvailabilityZone = "eu-west-1a" }, []string{"availabilityZone"}},
		{"zone is region", func(id *InstanceIdentity) { id.AvailabilityZone = "us-east-1" }, []string{"availabilityZone"}},
		{"bad region", func(id *InstanceIdentity) { id.Region = "mars" }, []string{"region", "availabilityZone"}},
		{"ipv6", func(id *InstanceIdentity) { id.PrivateIP = "::1" }, []string{"privateIp", "IPv4"}},
		{"not an ip", func(id *InstanceIdentity) { id.PrivateIP = "10.0.0" }, []string{"privateIp"}},
		{"upper-case dns", func(id *InstanceIdentity) { id.PrivateDNSName = "IP-1.EC2.internal" }, []string{"privateDnsName"}},
		{"lifecycle", func(id *InstanceIdentity) { id.Lifecycle = "reserved" }, []string{"lifecycle"}},
		{"image", func(id *InstanceIdentity) { id.ImageID = "" }, []string{"imageId"}},
		{"everything", func(id *InstanceIdentity) { *id = InstanceIdentity{} }, []string{
			"instanceId", "instanceType", "region", "availabilityZone", "privateIp", "privateDnsName", "lifecycle", "imageId",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := validIdentity()
			tt.modify(&id)
			testenv.CheckError(t, id.Validate(), tt.want...)
		})
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	root := t.TempDir()
	want := validIdentity()
	if err := WriteIdentity(root, want); err != nil {
		t.Fatalf("WriteIdentity: %v", err)
	}
	got, err := ReadIdentity(root)
	if err != nil || got != want {
		t.Fatalf("ReadIdentity = %+v, %v; want %+v", got, err, want)
	}
	data, _ := os.ReadFile(filepath.Join(root, IdentityPath))
	testenv.Contains(t, "identity document", string(data),
		`"instanceId"`, `"instanceType"`, `"availabilityZone"`, `"region"`, `"privateIp"`, `"privateDnsName"`, `"lifecycle"`, `"imageId"`)
	bad := want
	bad.Lifecycle = ""
	testenv.ErrorContains(t, WriteIdentity(root, bad), "lifecycle")
}

func TestReadIdentity(t *testing.T) {
	ec2Doc := `{"accountId":"123456789012","architecture":"x86_64","availabilityZone":"us-east-1a","imageId":"ami-0123456789abcdef0",
"instanceId":"i-0123456789abcdef0","instanceType":"m5.large","pendingTime":"2026-01-01T00:00:00Z","privateIp":"10.0.1.5",
"region":"us-east-1","version":"2017-09-30","privateDnsName":"ip-10-0-1-5.ec2.internal","lifecycle":"on-demand"}`
	tests := []struct {
		name    string
		content string // "" means no file
		want    string
	}{
		{"ec2 document with extra fields", ec2Doc, ""},
		{"missing", "", "no such file"},
		{"not json", "{", "parse instance identity"},
		{"invalid", `{"instanceId":"x"}`, "invalid instance identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.content != "" {
				writeTestFile(t, filepath.Join(root, IdentityPath), []byte(tt.content))
			}
			id, err := ReadIdentity(root)
			if tt.want == "" {
				if err != nil || id.PrivateIP != "10.0.1.5" {
					t.Fatalf("ReadIdentity = %+v, %v", id, err)
				}
				return
			}
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}
