package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/joincleanup"
)

// identityJoinView is what the join endpoint recorded of the identity
// join whose token sent a CSR (`csr explain`'s "Identity join" section).
// Source says where it was read: "claim" (the instance's claim
// ConfigMap), "event" (the IdentityJoined Event on its Node), "gone"
// (neither is left) or "pool-token" (the CSR was sent with a pool's
// token: no identity join).
type identityJoinView struct {
	Source   string `json:"source"`
	Instance string `json:"instance,omitempty"`
	Pool     string `json:"pool,omitempty"`
	// Token is the requestor's token id, masked.
	Token string `json:"token,omitempty"`
	// Record names the claim or the Event read.
	Record string `json:"record,omitempty"`
	// At is when the join was accepted (or the Event recorded).
	At           string   `json:"at,omitempty"`
	Node         string   `json:"nodeName,omitempty"`
	ARN          string   `json:"callerARN,omitempty"`
	STSEndpoint  string   `json:"stsEndpoint,omitempty"`
	Role         string   `json:"role,omitempty"`
	ProfileRoles []string `json:"instanceProfileRoles,omitempty"`
	Group        string   `json:"group,omitempty"`
	LaunchTime   string   `json:"launchTime,omitempty"`
	JoinWindow   string   `json:"joinWindow,omitempty"`
	SignedAt     string   `json:"signedAt,omitempty"`
	Freshness    string   `json:"freshness,omitempty"`
	Nonce        string   `json:"nonce,omitempty"`
	NonceExpires string   `json:"nonceExpires,omitempty"`
	// Message is the Event's, when read from it; Note says what is
	// missing.
	Message string `json:"message,omitempty"`
	Note    string `json:"note,omitempty"`
	// claim is the claim read, for the printed durations.
	claim *join.Claim
}

// maskToken shows the first two characters of a token id.
func maskToken(id string) string {
	if len(id) <= 2 {
		return "****"
	}
	return id[:2] + strings.Repeat("*", len(id)-2)
}

// identityJoinOf reads the join endpoint's record of the identity join
// that issued csr's token: its instance claim, else the IdentityJoined
// Event on nodeName. It is nil for a CSR of no kelp bootstrap token. A
// failed read is a note in the view, not an error: explain still prints
// the verdict.
func identityJoinOf(ctx context.Context, client kubernetes.Interface, csr *certificatesv1.CertificateSigningRequest, nodeName string) *identityJoinView {
	token := ""
	if id, ok := strings.CutPrefix(csr.Spec.Username, "system:bootstrap:"); ok {
		token = maskToken(id)
	}
	instance, ok := bootstrap.InstanceFromGroups(csr.Spec.Groups)
	if !ok {
		if pool, ok := bootstrap.PoolFromGroups(csr.Spec.Groups); ok && token != "" {
			return &identityJoinView{Source: "pool-token", Pool: pool, Token: token}
		}
		return nil
	}
	v := &identityJoinView{Source: "claim", Instance: instance, Token: token, Node: nodeName,
		Record: join.ClaimNamespace + "/" + join.InstanceClaimName(instance)}
	cm, err := client.CoreV1().ConfigMaps(join.ClaimNamespace).Get(ctx, join.InstanceClaimName(instance), metav1.GetOptions{})
	switch {
	case err == nil:
		claim, err := join.ClaimOf(cm)
		if err != nil {
			v.Note = err.Error()
			return v
		}
		v.fromClaim(claim)
		return v
	case !apierrors.IsNotFound(err):
		v.Note = fmt.Sprintf("read the claim %s: %v", v.Record, err)
		return v
	}
	claimGone := fmt.Sprintf("its claim %s is gone (claims are deleted twice the join window after the join)", v.Record)
	if nodeName == "" {
		v.Source, v.Record, v.Note = "gone", "", claimGone
		return v
	}
	sel := fields.Set{"involvedObject.kind": "Node", "involvedObject.name": nodeName, "reason": joincleanup.EventReasonIdentityJoined}
	events, err := client.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
	if err != nil {
		v.Source, v.Record, v.Note = "gone", "", claimGone+fmt.Sprintf("; list the %s Events of node %s: %v", joincleanup.EventReasonIdentityJoined, nodeName, err)
		return v
	}
	if len(events.Items) == 0 {
		v.Source, v.Record = "gone", ""
		v.Note = claimGone + fmt.Sprintf(", and node %s has no %s Event (Events expire, after an hour by default)", nodeName, joincleanup.EventReasonIdentityJoined)
		return v
	}
	e := events.Items[len(events.Items)-1]
	v.Source, v.Record, v.Message = "event", fmt.Sprintf("%s Event %s/%s on node %s", e.Reason, e.Namespace, e.Name, nodeName), e.Message
	v.At = rfc3339(e.LastTimestamp.Time)
	v.Note = claimGone
	return v
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// fromClaim fills v from an instance claim.
func (v *identityJoinView) fromClaim(c join.Claim) {
	v.claim = &c
	ch := c.Checks
	v.At, v.Node, v.ARN, v.Pool = rfc3339(c.At), c.NodeName, c.ARN, c.Pool
	v.STSEndpoint, v.Role, v.ProfileRoles, v.Group = ch.STSEndpoint, ch.Role, ch.ProfileRoles, ch.Group
	v.LaunchTime, v.SignedAt, v.Nonce, v.NonceExpires = rfc3339(ch.LaunchTime), rfc3339(ch.SignedAt), ch.NonceID, rfc3339(ch.NonceExpires)
	if ch.JoinWindow > 0 {
		v.JoinWindow = ch.JoinWindow.String()
	}
	if ch.Freshness > 0 {
		v.Freshness = ch.Freshness.String()
	}
	if ch.Role == "" {
		v.Note = "the claim was recorded by an older kelp, which kept only the caller, the pool and the time"
	}
}

// printIdentityJoin prints v as the "Identity join" section; nothing when
// v is nil.
func printIdentityJoin(out io.Writer, v *identityJoinView) {
	if v == nil {
		return
	}
	switch v.Source {
	case "pool-token":
		fmt.Fprintf(out, "\nIdentity join: none: the CSR was sent with the token %s of pool %s (a pool token)\n", v.Token, v.Pool)
		return
	case "gone":
		fmt.Fprintf(out, "\nIdentity join of instance %s (token %s, bound to it): the join endpoint's record is gone: %s.\n", v.Instance, v.Token, v.Note)
		return
	case "event":
		fmt.Fprintf(out, "\nIdentity join of instance %s, from the %s at %s; %s:\n  %s\n", v.Instance, v.Record, v.At, v.Note, v.Message)
		return
	}
	fmt.Fprintf(out, "\nIdentity join of instance %s (recorded by the join endpoint in %s):\n", v.Instance, v.Record)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer func() { _ = w.Flush() }()
	if v.claim == nil { // the claim did not parse
		fmt.Fprintf(w, "  note\t%s\n", v.Note)
		return
	}
	c := v.claim
	fmt.Fprintf(w, "  accepted\t%s, as node %s\n", v.At, v.Node)
	sts := ""
	if v.STSEndpoint != "" {
		sts = " (GetCallerIdentity answered by " + v.STSEndpoint + ")"
	}
	fmt.Fprintf(w, "  caller (STS)\t%s%s\n", v.ARN, sts)
	if v.Role != "" {
		fmt.Fprintf(w, "  role\t%s: an allowed node role, session named after the instance; its instance profile's roles: %s\n",
			v.Role, strings.Join(v.ProfileRoles, ", "))
		fmt.Fprintf(w, "  pool\t%s (group %s), a kelp pool of this cluster\n", v.Pool, v.Group)
		fmt.Fprintf(w, "  launched\t%s, %s before the join (join window %s)\n", v.LaunchTime, c.At.Sub(c.Checks.LaunchTime).Round(time.Second), v.JoinWindow)
		fmt.Fprintf(w, "  proof signed\t%s, %s before the join (freshness window %s)\n", v.SignedAt, c.At.Sub(c.Checks.SignedAt).Round(time.Second), v.Freshness)
		fmt.Fprintf(w, "  nonce\t%s: issued by kelp, unexpired (until %s), used once\n", v.Nonce, v.NonceExpires)
	} else {
		fmt.Fprintf(w, "  pool\t%s\n", v.Pool)
	}
	fmt.Fprintf(w, "  token issued\t%s, bound to instance %s (group %s): the CSR's requestor\n", v.Token, v.Instance, bootstrap.InstanceGroup(v.Instance))
	if v.Note != "" {
		fmt.Fprintf(w, "  note\t%s\n", v.Note)
	}
}
