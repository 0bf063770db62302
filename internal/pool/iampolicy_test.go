package pool_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// operatorPolicy is the operator's policy of docs/aws.md for cluster prod
// on the local cloud (test/e2e/iam_test.go runs the rest of kelp under
// it).
func operatorPolicy(t *testing.T) localcloud.Policies {
	t.Helper()
	doc, err := os.ReadFile("../../docs/aws.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "\n### The operator")
	if !ok {
		t.Fatal(`docs/aws.md has no heading "### The operator"`)
	}
	_, block, ok := strings.Cut(after, "```json\n")
	if !ok {
		t.Fatal("docs/aws.md: no JSON block after the operator's heading")
	}
	block, _, _ = strings.Cut(block, "```")
	block = strings.NewReplacer("CLUSTER", "prod", "REGION", localcloud.DefaultRegion, "ACCOUNT", localcloud.AccountID, "QUEUE", "q").Replace(block)
	p, err := localcloud.ParsePolicy("docs/aws.md operator", block, nil)
	if err != nil {
		t.Fatal(err)
	}
	return localcloud.Policies{p}
}

// rulings records what an Authorizer allowed and refused.
type rulings struct {
	inner   localcloud.Authorizer
	mu      sync.Mutex
	allowed map[string]bool
	refused []string
}

func (r *rulings) Authorize(a localcloud.Access) error {
	err := r.inner.Authorize(a)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.refused = append(r.refused, err.Error())
	} else {
		r.allowed[a.Service+":"+a.Action] = true
	}
	return err
}

// TestDocumentedOperatorPolicyCreatesIdentityPool: under the operator's
// policy of docs/aws.md, an identity pool with the node role's instance
// profile is created (the profile checked, the role passed to EC2) and
// updated to another profile of the node role; a profile of another role
// is refused.
func TestDocumentedOperatorPolicyCreatesIdentityPool(t *testing.T) {
	rec := &rulings{inner: operatorPolicy(t), allowed: map[string]bool{}}
	op := localcloud.Principal{Name: "operator", ARN: "arn:aws:iam::" + localcloud.AccountID + ":user/operator",
		AccessKeyID: "AKIAOPERATOR00000000", SecretAccessKey: "operator-secret", Authorizer: rec}
	env := newEnvAs(t, localcloud.Options{Principals: []localcloud.Principal{op},
		Roles: []localcloud.Role{{Name: "kelp-node-prod"}, {Name: "admin"}},
		InstanceProfiles: []localcloud.InstanceProfile{{Name: "kelp-node-prod", Role: "kelp-node-prod"},
			{Name: "kelp-node-prod-2", Role: "kelp-node-prod"}, {Name: "admin", Role: "admin"}},
	}, op)
	m := pool.New("prod", pool.Deps{Cloud: env.provider})
	ctx := context.Background()
	spec := identitySpec()
	spec.InstanceProfile = "kelp-node-prod"
	if _, err := m.Create(ctx, spec, identityJoin(t)); err != nil {
		t.Fatalf("create an identity pool under the documented policy: %v", err)
	}
	max := int32(6)
	if _, err := m.Update(ctx, "secure", pool.Update{InstanceProfile: "kelp-node-prod-2", MaxSize: &max}); err != nil {
		t.Fatalf("update its profile under the documented policy: %v", err)
	}
	rec.mu.Lock()
	for _, a := range []string{"iam:GetInstanceProfile", "iam:PassRole", "ec2:RunInstances", "autoscaling:CreateAutoScalingGroup",
		"autoscaling:UpdateAutoScalingGroup", "ec2:CreateLaunchTemplateVersion"} {
		if !rec.allowed[a] {
			t.Errorf("%s was never allowed", a)
		}
	}
	if len(rec.refused) > 0 {
		t.Errorf("refused under the documented policy:\n%s", strings.Join(rec.refused, "\n"))
	}
	rec.mu.Unlock()

	other := identitySpec()
	other.Name, other.InstanceProfile = "admin", "admin"
	_, err := m.Create(ctx, other, identityJoin(t))
	testenv.ErrorContains(t, err, "iam:GetInstanceProfile on resource: arn:aws:iam::"+localcloud.AccountID+":instance-profile/admin")
}
