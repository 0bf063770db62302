package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// outputFlag is -o/--output on every list and describe command: a table
// (or the command's text) by default, or JSON or YAML for scripts. The
// structured forms have fields of their own, in lowerCamelCase, as
// kubectl's do; lists are arrays.
type outputFlag struct{ format string }

func (o *outputFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "", "output format: json or yaml (default: a table)")
}

// check refuses a format it does not know, before any call.
func (o outputFlag) check() error {
	switch o.format {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output %q: want json or yaml (or no -o for a table)", o.format)
}

// print writes v in the chosen format, or calls text for the default.
func (o outputFlag) print(w io.Writer, v any, text func() error) error {
	switch o.format {
	case "json":
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return err
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		_, err = w.Write(data)
		return err
	case "":
		return text()
	}
	return o.check()
}

// poolView is a pool as -o json|yaml prints it.
type poolView struct {
	Name                  string            `json:"name"`
	Group                 string            `json:"group"`
	LaunchTemplate        string            `json:"launchTemplate"`
	LaunchTemplateVersion string            `json:"launchTemplateVersion,omitempty"`
	InstanceTypes         []string          `json:"instanceTypes,omitempty"`
	CapacityType          string            `json:"capacityType"`
	Join                  string            `json:"join,omitempty"`
	InstanceProfile       string            `json:"instanceProfile,omitempty"`
	MinSize               int32             `json:"minSize"`
	MaxSize               int32             `json:"maxSize"`
	Desired               int32             `json:"desiredCapacity"`
	Instances             int               `json:"instances"`
	ReadyNodes            *int              `json:"readyNodes,omitempty"`
	Outdated              map[string]string `json:"outdated,omitempty"`
	DrainHook             *hookView         `json:"drainHook"`
	Members               []memberView      `json:"members,omitempty"`
}

type hookView struct {
	Name             string `json:"name"`
	HeartbeatTimeout string `json:"heartbeatTimeout"`
	GlobalTimeout    string `json:"globalTimeout,omitempty"`
	DefaultResult    string `json:"defaultResult"`
}

type memberView struct {
	InstanceID            string `json:"instanceID"`
	InstanceType          string `json:"instanceType"`
	LifecycleState        string `json:"lifecycleState"`
	LaunchTemplateVersion string `json:"launchTemplateVersion,omitempty"`
}

func newPoolView(p pool.Pool) poolView {
	v := poolView{Name: p.Name, Group: p.GroupName, LaunchTemplate: p.LaunchTemplate, LaunchTemplateVersion: p.LaunchTemplateVersion,
		InstanceTypes: p.InstanceTypes, CapacityType: string(p.CapacityType), MinSize: p.MinSize, MaxSize: p.MaxSize,
		Desired: p.Desired, Instances: p.Instances, Outdated: p.Outdated, DrainHook: newHookView(p.DrainHook),
		Join: string(p.Join), InstanceProfile: p.InstanceProfile}
	for _, m := range p.Members {
		mv := memberView{InstanceID: m.ID, InstanceType: m.InstanceType, LifecycleState: m.LifecycleState}
		if m.Template != nil {
			mv.LaunchTemplateVersion = m.Template.Version
		}
		v.Members = append(v.Members, mv)
	}
	return v
}

func newHookView(h *cloud.LifecycleHook) *hookView {
	if h == nil {
		return nil
	}
	v := &hookView{Name: h.Name, HeartbeatTimeout: h.HeartbeatTimeout.String(), DefaultResult: string(h.DefaultResult)}
	if h.GlobalTimeout > 0 {
		v.GlobalTimeout = h.GlobalTimeout.String()
	}
	return v
}

// csrView is a CSR as `csr list -o json|yaml` prints it.
type csrView struct {
	Name       string `json:"name"`
	Signer     string `json:"signerName"`
	Requestor  string `json:"requestor"`
	NodeName   string `json:"nodeName,omitempty"`
	AgeSeconds int64  `json:"ageSeconds"`
	Condition  string `json:"condition"`
}

func newCSRView(s approver.Summary) csrView {
	return csrView{Name: s.Name, Signer: s.Signer, Requestor: s.Requestor, NodeName: s.NodeName,
		AgeSeconds: int64(s.Age / time.Second), Condition: string(s.Condition)}
}

// tokenView is a bootstrap token as `token list -o json|yaml` prints it:
// never its secret.
type tokenView struct {
	ID          string    `json:"id"`
	Pool        string    `json:"pool"`
	Expires     time.Time `json:"expires"`
	Expired     bool      `json:"expired"`
	Created     time.Time `json:"created"`
	Description string    `json:"description,omitempty"`
}

func newTokenView(t bootstrap.Token, now time.Time) tokenView {
	return tokenView{ID: t.ID, Pool: t.Pool, Expires: t.Expires.UTC(), Expired: t.Expired(now), Created: t.Created.UTC(), Description: t.Description}
}
