package localcloud

import (
	"fmt"
	"maps"
	"slices"

	"github.com/kelp-dev/kelp/internal/localcloud/iampolicy"
)

// Policies is an [Authorizer] that enforces IAM identity-based policies as
// AWS does: each resource a request touches is evaluated with its tags
// (aws:ResourceTag/KEY and the service's own SERVICE:ResourceTag/KEY) and
// the request's tags (aws:RequestTag/KEY, aws:TagKeys); an explicit Deny
// wins, and what no statement allows is denied.
type Policies []*iampolicy.Policy

var _ Authorizer = Policies(nil)

// Authorize implements Authorizer: a refusal is a *DeniedError.
func (ps Policies) Authorize(a Access) error {
	action := a.Service + ":" + a.Action
	resources := a.Resources
	if len(resources) == 0 {
		resources = []Resource{{ARN: "*"}}
	}
	for _, r := range resources {
		req := iampolicy.Request{Action: action, Resource: r.ARN, Context: requestContext(a, r)}
		if d := iampolicy.Evaluate(ps, req); d != iampolicy.Allow {
			return &DeniedError{Principal: a.Principal.ARN, Action: action, Resource: r.ARN, Explicit: d == iampolicy.ExplicitDeny}
		}
	}
	return nil
}

// requestContext is the condition keys of a request on r.
func requestContext(a Access, r Resource) map[string][]string {
	ctx := maps.Clone(a.Context)
	if ctx == nil {
		ctx = map[string][]string{}
	}
	for k, v := range r.Tags {
		ctx["aws:ResourceTag/"+k] = []string{v}
		ctx[a.Service+":ResourceTag/"+k] = []string{v}
	}
	if a.RequestTags != nil {
		for k, v := range a.RequestTags {
			ctx["aws:RequestTag/"+k] = []string{v}
		}
		ctx["aws:TagKeys"] = slices.Sorted(maps.Keys(a.RequestTags))
	}
	return ctx
}

// DeniedError is a request the policies refuse, in AWS's words.
type DeniedError struct {
	Principal, Action string
	// Resource is the ARN refused; "*" for actions without a resource.
	Resource string
	// Explicit: a Deny statement applied; else none allowed.
	Explicit bool
}

func (e *DeniedError) Error() string {
	on := ""
	if e.Resource != "*" {
		on = " on resource: " + e.Resource
	}
	why := "because no identity-based policy allows the " + e.Action + " action"
	if e.Explicit {
		why = "with an explicit deny in an identity-based policy"
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s%s %s", e.Principal, e.Action, on, why)
}
