package pool_test

import (
	"context"
	"maps"
	"testing"

	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// joinUserData renders kelp's user-data for the general pool with a fresh
// token of tokens.
func joinUserData(t *testing.T, tokens *fakeTokens, spec pool.Spec) []byte {
	t.Helper()
	data, err := tokenJoin(t, tokens).UserData(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// rotated is data with its bootstrap token replaced, as token rotation
// writes it.
func rotated(t *testing.T, data []byte, token string) []byte {
	t.Helper()
	out, err := userdata.ReplaceBootstrapToken(data, token)
	if err != nil {
		t.Fatal(err)
	}
	return out.Data
}

func TestDrift(t *testing.T) {
	tokens := &fakeTokens{}
	general := pool.Spec{Name: "general"}
	ud := joinUserData(t, tokens, general)
	otherLabels := joinUserData(t, tokens, pool.Spec{Name: "general", Labels: map[string]string{"team": "blue"}})
	base := pool.TemplateVersion{ImageID: "ami-1", InstanceType: "m5.large", UserData: ud, Settings: `{"KeyName":"a"}`}
	with := func(f func(*pool.TemplateVersion)) pool.TemplateVersion {
		v := base
		f(&v)
		return v
	}
	tests := []struct {
		name       string
		have, want pool.TemplateVersion
		drift      string
	}{
		{"same data", base, base, ""},
		{"token rotated", base, with(func(v *pool.TemplateVersion) { v.UserData = rotated(t, ud, "abcdef.0123456789abcdef") }), ""},
		{"token rotated twice", with(func(v *pool.TemplateVersion) { v.UserData = rotated(t, ud, "zzzzzz.zzzzzzzzzzzzzzzz") }),
			with(func(v *pool.TemplateVersion) { v.UserData = rotated(t, ud, "abcdef.0123456789abcdef") }), ""},
		{"image", base, with(func(v *pool.TemplateVersion) { v.ImageID = "ami-2" }), pool.DriftImage},
		{"instance type", base, with(func(v *pool.TemplateVersion) { v.InstanceType = "c5.large" }), pool.DriftInstanceType},
		{"other user-data, new token", base, with(func(v *pool.TemplateVersion) { v.UserData = otherLabels }), pool.DriftUserData},
		{"settings", base, with(func(v *pool.TemplateVersion) { v.Settings = `{"KeyName":"b"}` }), pool.DriftSettings},
		{"image and token: image", base, with(func(v *pool.TemplateVersion) {
			v.ImageID, v.UserData = "ami-2", rotated(t, ud, "abcdef.0123456789abcdef")
		}), pool.DriftImage},
		{"plain user-data equal", with(func(v *pool.TemplateVersion) { v.UserData = []byte("#!/bin/sh\n") }),
			with(func(v *pool.TemplateVersion) { v.UserData = []byte("#!/bin/sh\n") }), ""},
		{"plain user-data differs", with(func(v *pool.TemplateVersion) { v.UserData = []byte("#!/bin/sh\n") }),
			with(func(v *pool.TemplateVersion) { v.UserData = []byte("#!/bin/sh\necho\n") }), pool.DriftUserData},
		{"token-less cloud-config differs", with(func(v *pool.TemplateVersion) { v.UserData = []byte("#cloud-config\n") }),
			base, pool.DriftUserData},
		// A document kelp's decoder keeps only in part: a key it does not
		// know differs, so it is compared byte for byte.
		{"unknown key besides the token", with(func(v *pool.TemplateVersion) { v.UserData = append(append([]byte{}, ud...), "bootcmd: [x]\n"...) }),
			with(func(v *pool.TemplateVersion) {
				v.UserData = append(rotated(t, ud, "abcdef.0123456789abcdef"), "bootcmd: [y]\n"...)
			}), pool.DriftUserData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pool.Drift(tt.have, tt.want); got != tt.drift {
				t.Errorf("Drift = %q, want %q", got, tt.drift)
			}
		})
	}
}

func TestOutdatedMembers(t *testing.T) {
	tokens := &fakeTokens{}
	ud := joinUserData(t, tokens, pool.Spec{Name: "general"})
	current := pool.TemplateVersion{ImageID: "ami-1", InstanceType: "m5.large", UserData: rotated(t, ud, "abcdef.0123456789abcdef")}
	v1, v2, v3 := pool.TemplateRef{ID: "lt-1", Version: "1"}, pool.TemplateRef{ID: "lt-1", Version: "2"}, pool.TemplateRef{ID: "lt-1", Version: "3"}
	versions := map[pool.TemplateRef]pool.TemplateVersion{
		v1: {ImageID: "ami-0", InstanceType: "m5.large", UserData: ud}, // an older image
		v2: {ImageID: "ami-1", InstanceType: "m5.large", UserData: ud}, // the token before rotation
		v3: current,
	}
	member := func(id, state, typ string, ref *pool.TemplateRef) pool.Member {
		return pool.Member{ID: id, LifecycleState: state, InstanceType: typ, Template: ref}
	}
	tests := []struct {
		name string
		in   pool.OutdatedInput
		want map[string]string
	}{
		{"token-only versions are current", pool.OutdatedInput{Members: []pool.Member{
			member("i-2", "InService", "m5.large", &v2), member("i-3", "InService", "m5.large", &v3)}}, map[string]string{}},
		{"older image", pool.OutdatedInput{Members: []pool.Member{member("i-1", "InService", "m5.large", &v1)}},
			map[string]string{"i-1": pool.DriftImage}},
		{"leaving members are not counted", pool.OutdatedInput{Members: []pool.Member{
			member("i-1", "Terminating:Wait", "m5.large", &v1), member("i-9", "Detaching", "m5.large", &v1)}}, map[string]string{}},
		{"unknown version", pool.OutdatedInput{Members: []pool.Member{
			member("i-4", "InService", "m5.large", &pool.TemplateRef{ID: "lt-1", Version: "4"}), member("i-5", "Pending", "m5.large", nil)}},
			map[string]string{"i-4": pool.DriftUnknown, "i-5": pool.DriftUnknown}},
		{"mixed pool: type dropped from the pool", pool.OutdatedInput{InstanceTypes: []string{"m5.large", "c5.large"}, Members: []pool.Member{
			member("i-6", "InService", "r5.large", &v3), member("i-7", "InService", "c5.large", &v3)}},
			map[string]string{"i-6": pool.DriftNotInPool}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Current, tt.in.Versions = current, versions
			if got := pool.OutdatedMembers(tt.in); !maps.Equal(got, tt.want) {
				t.Errorf("OutdatedMembers = %v, want %v", got, tt.want)
			}
		})
	}
}
