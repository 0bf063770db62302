package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/joincleanup"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestCSRExplainIdentityJoin: `kelp csr explain` on a CSR sent with the
// token of an identity join shows the join endpoint's record of it, read
// from the instance claim the join server made; once the claim is gone,
// the IdentityJoined Event on the Node; once both are gone, it says so.
// A CSR of a pool token says it was no identity join.
func TestCSRExplainIdentityJoin(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	const instance, node = "i-0000000000000e701", "ip-127-9-0-71.ec2.internal"
	now := time.Now().UTC().Truncate(time.Second)
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	tok, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Instance: instance, TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bootstrap.DeleteToken(context.Background(), env.Client, tok.ID) })
	arn := "arn:aws:sts::123456789012:assumed-role/kelp-node/" + instance
	claim := join.InstanceClaim(
		join.Decision{InstanceID: instance, NodeName: node, Pool: "workers", Group: "asg-workers", ProfileRoles: []string{"kelp-node"},
			LaunchTime: now.Add(-2 * time.Minute), JoinWindow: 30 * time.Minute},
		join.Identity{ARN: arn, Role: "kelp-node", InstanceID: instance},
		join.Checked{NonceID: "nonce-e701", NonceExpires: now.Add(5 * time.Minute), SignedAt: now.Add(-3 * time.Second),
			Freshness: 5 * time.Minute, STSEndpoint: "https://sts.us-east-1.amazonaws.com"}, now)
	cms := env.Client.CoreV1().ConfigMaps(join.ClaimNamespace)
	if _, err := cms.Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), claim.Name, metav1.DeleteOptions{}) })
	csrName := createCSR(t, kubernetes.NewForConfigOrDie(tokenConfig(t, env, tok.String())), node)
	t.Cleanup(func() {
		_ = env.Client.CertificatesV1().CertificateSigningRequests().Delete(context.Background(), csrName, metav1.DeleteOptions{})
	})
	cloud := []string{"--cluster-name", "kelp-test", "--region", "us-east-1", "--endpoint", "http://127.0.0.1:1"}
	explain := func(extra ...string) string {
		t.Helper()
		out, _, err := kelp(t, append(append([]string{"csr", "explain", csrName}, cloud...), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, tok.Secret) {
			t.Errorf("explain shows the token's secret:\n%s", out)
		}
		return out
	}
	masked := tok.ID[:2] + "****"
	testenv.Contains(t, "explain of an identity-joined CSR", explain(),
		"Identity join of instance "+instance+" (recorded by the join endpoint in kube-system/kelp-join-"+instance+")",
		"accepted", now.Format(time.RFC3339)+", as node "+node,
		"caller (STS)", arn+" (GetCallerIdentity answered by https://sts.us-east-1.amazonaws.com)",
		"kelp-node: an allowed node role, session named after the instance; its instance profile's roles: kelp-node",
		"workers (group asg-workers), a kelp pool of this cluster",
		now.Add(-2*time.Minute).Format(time.RFC3339)+", 2m0s before the join (join window 30m0s)",
		now.Add(-3*time.Second).Format(time.RFC3339)+", 3s before the join (freshness window 5m0s)",
		"nonce-e701: issued by kelp, unexpired (until "+now.Add(5*time.Minute).Format(time.RFC3339)+"), used once",
		"token issued", masked+", bound to instance "+instance+" (group "+bootstrap.InstanceGroup(instance)+")")
	var view verdictView
	if err := json.Unmarshal([]byte(explain("-o", "json")), &view); err != nil {
		t.Fatal(err)
	}
	if j := view.IdentityJoin; j == nil || j.Source != "claim" || j.ARN != arn || j.Token != masked || j.LaunchTime == "" || j.Nonce != "nonce-e701" {
		t.Errorf("json identityJoin = %+v", j)
	}

	// The claim is deleted (twice the join window later): the Event on
	// the Node remains for a while.
	if err := cms.Delete(ctx, claim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	events := env.Client.CoreV1().Events(metav1.NamespaceDefault)
	ev, err := events.Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: node + "."},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node}, Reason: joincleanup.EventReasonIdentityJoined,
		Type: corev1.EventTypeNormal, Message: joincleanup.EventMessage(join.Claim{InstanceID: instance, ARN: arn, Pool: "workers", At: now}),
		LastTimestamp: metav1.NewTime(now), Source: corev1.EventSource{Component: "kelp"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "explain once the claim is gone", explain(), "Identity join of instance "+instance+", from the IdentityJoined Event default/"+ev.Name+" on node "+node,
		"its claim kube-system/kelp-join-"+instance+" is gone", "joined by identity at "+now.Format(time.RFC3339)+" as "+arn)
	if err := events.Delete(ctx, ev.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "explain once the record is gone", explain(), "Identity join of instance "+instance+" (token "+masked+", bound to it): the join endpoint's record is gone",
		"claims are deleted twice the join window after the join", "node "+node+" has no IdentityJoined Event")

	// A pool token's CSR: no identity join.
	poolTok, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Pool: "explain", TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bootstrap.DeleteToken(context.Background(), env.Client, poolTok.ID) })
	poolCSR := createCSR(t, kubernetes.NewForConfigOrDie(tokenConfig(t, env, poolTok.String())), "ip-127-9-0-72.ec2.internal")
	out, _, err := kelp(t, append([]string{"csr", "explain", poolCSR}, cloud...)...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "explain of a pool token's CSR", out, "Identity join: none: the CSR was sent with the token "+poolTok.ID[:2]+"**** of pool explain")
}

// TestCSRExplainIssued: `kelp csr explain` on a CSR kelp approved and
// kube-controller-manager issued, whose Node joined, heads with the
// approval and reads today's NodeExists as expected.
func TestCSRExplainIssued(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	const node = "ip-127-9-0-73.ec2.internal"
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	tok, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Pool: "explain", TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bootstrap.DeleteToken(context.Background(), env.Client, tok.ID) })
	csrs := env.Client.CertificatesV1().CertificateSigningRequests()
	name := createCSR(t, kubernetes.NewForConfigOrDie(tokenConfig(t, env, tok.String())), node)
	t.Cleanup(func() { _ = csrs.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	csr, err := csrs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved,
		Status: corev1.ConditionTrue, Reason: approver.ReasonApproved, Message: "instance i-0000000000000e703 vouches for it"})
	if _, err := csrs.UpdateApproval(ctx, name, csr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the approved CSR issued", func(ctx context.Context) (bool, error) {
		got, err := csrs.Get(ctx, name, metav1.GetOptions{})
		return err == nil && approver.ConditionOf(got) == approver.Issued, nil
	})
	if _, err := env.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	out, _, err := kelp(t, "csr", "explain", name, "--cluster-name", "kelp-test", "--region", "us-east-1", "--endpoint", "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "explain of an issued CSR", out, "Decided:   Approved and issued at ", "(AutoApproved)\n           instance i-0000000000000e703 vouches for it",
		"Re-evaluated now as if pending: Deny NodeExists (expected: the node has joined)")
	if strings.Contains(out, "Verdict:") {
		t.Errorf("an issued CSR headed by today's verdict:\n%s", out)
	}
}
