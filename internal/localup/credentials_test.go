package localup

import (
	"context"
	"testing"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestControllerCredentials(t *testing.T) {
	ctrl := localcloud.Principal{Name: "controller", AccessKeyID: "AKIACONTROLLER000000", SecretAccessKey: "s"}
	tests := []struct {
		name, principal, wantKey, wantErr string
	}{
		{"default: the static keys", "", localcloud.AccessKeyID, ""},
		{"a listed principal", "controller", ctrl.AccessKeyID, ""},
		{"an unknown one", "operator", "", `controller principal "operator": no such cloud principal`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{cfg: Config{CloudPrincipals: []localcloud.Principal{ctrl}, ControllerPrincipal: tt.principal}}
			creds, err := c.controllerCredentials()
			if tt.wantErr != "" {
				testenv.ErrorContains(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := creds.Retrieve(context.Background())
			if err != nil || v.AccessKeyID != tt.wantKey {
				t.Fatalf("keys %s (%v), want %s", v.AccessKeyID, err, tt.wantKey)
			}
		})
	}
}
