package join

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

var (
	testKey    = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	testPolicy = Policy{STSEndpoint: "https://sts.us-east-1.amazonaws.com", AllowedRoles: []string{"kelp-node"}, Account: "123456789012"}
)

// validProof returns a proof CheckProof accepts at testNow: its headers
// look signed (CheckProof does not verify signatures; STS does).
func validProof(t *testing.T) Proof {
	t.Helper()
	nonce, err := Nonces{Key: testKey}.Issue(testNow)
	if err != nil {
		t.Fatal(err)
	}
	req := []byte(`{"nodeName":"ip-10-0-0-1.ec2.internal"}`)
	h := http.Header{}
	h.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260506/us-east-1/sts/aws4_request, "+
		"SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-kelp-nonce;x-kelp-request-hash, Signature=abc")
	h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	h.Set("X-Amz-Date", testNow.Add(-time.Minute).Format(amzDate))
	h.Set("X-Amz-Security-Token", "session")
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderRequestHash, RequestHash(req))
	return Proof{Request: req, STS: SignedRequest{Method: "POST", URL: "https://sts.us-east-1.amazonaws.com/", Header: h, Body: GetCallerIdentityBody}}
}

func TestCheckProof(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *Proof)
		now    time.Time
		want   Reason
	}{
		{name: "valid", change: func(*Proof) {}},
		{name: "another sts host", want: ReasonWrongSTSHost, change: func(p *Proof) { p.STS.URL = "https://sts.evil.example/" }},
		{name: "another port", want: ReasonWrongSTSHost, change: func(p *Proof) { p.STS.URL = "https://sts.us-east-1.amazonaws.com:444/" }},
		{name: "plain http", want: ReasonWrongSTSHost, change: func(p *Proof) { p.STS.URL = "http://sts.us-east-1.amazonaws.com/" }},
		{name: "GET", want: ReasonTampered, change: func(p *Proof) { p.STS.Method = "GET" }},
		{name: "path", want: ReasonTampered, change: func(p *Proof) { p.STS.URL = "https://sts.us-east-1.amazonaws.com/x" }},
		{name: "query", want: ReasonTampered, change: func(p *Proof) { p.STS.URL += "?Action=AssumeRole" }},
		{name: "another action", want: ReasonTampered, change: func(p *Proof) { p.STS.Body = "Action=AssumeRole&Version=2011-06-15" }},
		{name: "body with extra parameter", want: ReasonTampered, change: func(p *Proof) { p.STS.Body += "&X=1" }},
		{name: "no authorization", want: ReasonTampered, change: func(p *Proof) { p.STS.Header.Del("Authorization") }},
		{name: "another algorithm", want: ReasonTampered, change: func(p *Proof) {
			p.STS.Header.Set("Authorization", strings.Replace(p.STS.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
		}},
		{name: "another service", want: ReasonTampered, change: func(p *Proof) {
			p.STS.Header.Set("Authorization", strings.Replace(p.STS.Header.Get("Authorization"), "/sts/", "/iam/", 1))
		}},
		{name: "nonce not signed", want: ReasonTampered, change: func(p *Proof) {
			p.STS.Header.Set("Authorization", strings.Replace(p.STS.Header.Get("Authorization"), "x-kelp-nonce;", "", 1))
		}},
		{name: "hash not signed", want: ReasonTampered, change: func(p *Proof) {
			p.STS.Header.Set("Authorization", strings.Replace(p.STS.Header.Get("Authorization"), ";x-kelp-request-hash", "", 1))
		}},
		{name: "date not signed", want: ReasonTampered, change: func(p *Proof) {
			p.STS.Header.Set("Authorization", strings.Replace(p.STS.Header.Get("Authorization"), "x-amz-date;", "", 1))
		}},
		{name: "signed header missing", want: ReasonTampered, change: func(p *Proof) { p.STS.Header.Del("X-Amz-Security-Token") }},
		{name: "stale", want: ReasonStale, now: testNow.Add(DefaultFreshness + 2*time.Minute)},
		{name: "from the future", want: ReasonStale, change: func(p *Proof) {
			p.STS.Header.Set("X-Amz-Date", testNow.Add(DefaultFreshness+time.Second).Format(amzDate))
		}},
		{name: "bad date", want: ReasonTampered, change: func(p *Proof) { p.STS.Header.Set("X-Amz-Date", "yesterday") }},
		{name: "forged nonce", want: ReasonNonceInvalid, change: func(p *Proof) {
			n, _ := Nonces{Key: []byte("another key of thirty-two bytes!")}.Issue(testNow)
			p.STS.Header.Set(HeaderNonce, n)
		}},
		{name: "nonce with a later expiry", want: ReasonNonceInvalid, change: func(p *Proof) {
			parts := strings.Split(p.STS.Header.Get(HeaderNonce), ".")
			p.STS.Header.Set(HeaderNonce, parts[0]+".99999999999."+parts[2])
		}},
		{name: "expired nonce", want: ReasonNonceExpired, change: func(p *Proof) {
			n, _ := Nonces{Key: testKey}.Issue(testNow.Add(-DefaultNonceTTL))
			p.STS.Header.Set(HeaderNonce, n)
		}},
		{name: "request changed", want: ReasonTampered, change: func(p *Proof) { p.Request = []byte(`{"nodeName":"ip-10-0-0-2.ec2.internal"}`) }},
		{name: "request not json", want: ReasonMalformed, change: func(p *Proof) {
			p.Request = []byte("node")
			p.STS.Header.Set(HeaderRequestHash, RequestHash(p.Request))
		}},
		{name: "request without node", want: ReasonMalformed, change: func(p *Proof) {
			p.Request = []byte(`{}`)
			p.STS.Header.Set(HeaderRequestHash, RequestHash(p.Request))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validProof(t)
			if tt.change != nil {
				tt.change(&p)
			}
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			c, err := CheckProof(p, testPolicy, Nonces{Key: testKey}, now)
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("CheckProof reason = %q (%v), want %q", got, err, tt.want)
			}
			if tt.want != "" {
				return
			}
			if c.Request.NodeName != "ip-10-0-0-1.ec2.internal" || c.NonceID == "" {
				t.Errorf("checked = %+v", c)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", HeaderNonce, HeaderRequestHash, "Content-Type"} {
				if c.Header.Get(h) != p.STS.Header.Get(h) {
					t.Errorf("forwarded %s = %q, want %q", h, c.Header.Get(h), p.STS.Header.Get(h))
				}
			}
		})
	}
}

func TestCheckProofForwardsOnlySignedHeaders(t *testing.T) {
	p := validProof(t)
	p.STS.Header.Set("X-Forwarded-Host", "sts.evil.example")
	c, err := CheckProof(p, testPolicy, Nonces{Key: testKey}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.Header.Get("X-Forwarded-Host") != "" || c.Header.Get("Host") != "" {
		t.Errorf("forwarded unsigned headers: %v", c.Header)
	}
}

func TestNonces(t *testing.T) {
	n := Nonces{Key: testKey, TTL: time.Minute}
	a, err := n.Issue(testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := n.Issue(testNow)
	if a == b {
		t.Fatalf("two nonces are equal: %s", a)
	}
	id, exp, err := n.Check(a, testNow.Add(59*time.Second))
	if err != nil || len(id) != 32 || !exp.Equal(testNow.Add(time.Minute)) {
		t.Errorf("Check = %q, %s, %v", id, exp, err)
	}
	if _, _, err := n.Check(a, testNow.Add(time.Minute)); ReasonOf(err) != ReasonNonceExpired {
		t.Errorf("Check at expiry: %v, want %s", err, ReasonNonceExpired)
	}
	for _, bad := range []string{"", "x", a + "0", strings.ToUpper(a), "." + a} {
		if _, _, err := n.Check(bad, testNow); ReasonOf(err) != ReasonNonceInvalid {
			t.Errorf("Check(%q): %v, want %s", bad, err, ReasonNonceInvalid)
		}
	}
	if _, err := (Nonces{Key: testKey[:31]}).Issue(testNow); err == nil {
		t.Error("Issue with a short key: want an error")
	}
}

func TestCheckIdentity(t *testing.T) {
	tests := []struct {
		arn  string
		want Reason
		role string
	}{
		{arn: "arn:aws:sts::123456789012:assumed-role/kelp-node/i-0123456789abcdef0", role: "kelp-node"},
		{arn: "arn:aws-cn:sts::123456789012:assumed-role/kelp-node/i-01234567", role: "kelp-node"},
		{arn: "arn:aws:sts::123456789012:assumed-role/kelp-node/botocore-session-1", want: ReasonNotInstanceSession},
		{arn: "arn:aws:sts::123456789012:assumed-role/kelp-node/i-0123456789ABCDEF0", want: ReasonNotInstanceSession},
		{arn: "arn:aws:sts::123456789012:assumed-role/kelp-node/i-0123456789abcdef0/x", want: ReasonNotInstanceSession},
		{arn: "arn:aws:iam::123456789012:user/alice", want: ReasonNotInstanceSession},
		{arn: "arn:aws:sts::123456789012:federated-user/i-0123456789abcdef0", want: ReasonNotInstanceSession},
		{arn: "arn:aws:iam::123456789012:role/kelp-node", want: ReasonNotInstanceSession},
		{arn: "arn:evil:sts::123456789012:assumed-role/kelp-node/i-0123456789abcdef0", want: ReasonNotInstanceSession},
		{arn: "arn:aws:sts::12345:assumed-role/kelp-node/i-0123456789abcdef0", want: ReasonNotInstanceSession},
		{arn: "arn:aws:sts::123456789012:assumed-role/admin/i-0123456789abcdef0", want: ReasonRoleNotAllowed},
		{arn: "arn:aws:sts::999999999999:assumed-role/kelp-node/i-0123456789abcdef0", want: ReasonRoleNotAllowed},
	}
	for _, tt := range tests {
		id, err := CheckIdentity(tt.arn, testPolicy)
		if got := ReasonOf(err); got != tt.want {
			t.Errorf("CheckIdentity(%q) reason = %q (%v), want %q", tt.arn, got, err, tt.want)
			continue
		}
		if tt.want == "" && (id.Role != tt.role || !strings.HasPrefix(id.InstanceID, "i-")) {
			t.Errorf("CheckIdentity(%q) = %+v", tt.arn, id)
		}
	}
}

func TestParseCallerIdentity(t *testing.T) {
	body := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/kelp-node/i-0123456789abcdef0</Arn>
    <UserId>AROAEXAMPLE:i-0123456789abcdef0</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`
	arn, err := ParseCallerIdentity([]byte(body))
	if err != nil || arn != "arn:aws:sts::123456789012:assumed-role/kelp-node/i-0123456789abcdef0" {
		t.Errorf("ParseCallerIdentity = %q, %v", arn, err)
	}
	for _, bad := range []string{"", "<x/>", "<GetCallerIdentityResponse></GetCallerIdentityResponse>"} {
		if _, err := ParseCallerIdentity([]byte(bad)); err == nil {
			t.Errorf("ParseCallerIdentity(%q): want an error", bad)
		}
	}
}

func TestDecide(t *testing.T) {
	const id = "i-0123456789abcdef0"
	base := func() Facts {
		return Facts{
			Identity: Identity{Role: "kelp-node", InstanceID: id},
			Request:  Request{NodeName: "ip-10-0-0-1.ec2.internal"},
			Instance: &cloud.Instance{ID: id, PrivateDNSName: "ip-10-0-0-1.ec2.internal", GroupName: "asg-workers",
				State: cloud.InstanceStatePending, LaunchTime: testNow.Add(-2 * time.Minute)},
			ProfileRoles:  []string{"kelp-node"},
			ManagedGroups: map[string]string{"asg-workers": "workers", "asg-other": ""},
			Now:           testNow,
		}
	}
	tests := []struct {
		name   string
		change func(f *Facts)
		want   Reason
	}{
		{name: "accepted", change: func(*Facts) {}},
		{name: "unknown instance", want: ReasonNotInManagedPool, change: func(f *Facts) { f.Instance = nil }},
		{name: "profile of another role", want: ReasonProfileMismatch, change: func(f *Facts) { f.ProfileRoles = []string{"other"} }},
		{name: "no profile", want: ReasonProfileMismatch, change: func(f *Facts) { f.ProfileRoles = nil }},
		{name: "in no group", want: ReasonNotInManagedPool, change: func(f *Facts) { f.Instance.GroupName = "" }},
		{name: "another cluster's pool", want: ReasonNotInManagedPool, change: func(f *Facts) { f.Instance.GroupName = "asg-of-cluster-b" }},
		{name: "managed group that is no pool", want: ReasonNotInManagedPool, change: func(f *Facts) { f.Instance.GroupName = "asg-other" }},
		{name: "terminating", want: ReasonInstanceNotActive, change: func(f *Facts) { f.Instance.State = cloud.InstanceStateTerminating }},
		{name: "launched long ago", want: ReasonOutsideJoinWindow, change: func(f *Facts) { f.Instance.LaunchTime = testNow.Add(-DefaultJoinWindow - time.Second) }},
		{name: "custom window", want: ReasonOutsideJoinWindow, change: func(f *Facts) { f.JoinWindow = time.Minute }},
		{name: "another node's name", want: ReasonWrongNodeName, change: func(f *Facts) { f.Request.NodeName = "ip-10-0-0-2.ec2.internal" }},
		{name: "joined before", want: ReasonAlreadyJoined, change: func(f *Facts) { f.Joined = "node exists" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			tt.change(&f)
			d, err := Decide(f)
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("Decide reason = %q (%v), want %q", got, err, tt.want)
			}
			want := Decision{InstanceID: id, NodeName: "ip-10-0-0-1.ec2.internal", Pool: "workers", Group: "asg-workers",
				ProfileRoles: []string{"kelp-node"}, LaunchTime: testNow.Add(-2 * time.Minute), JoinWindow: DefaultJoinWindow}
			if tt.want == "" && !reflect.DeepEqual(d, want) {
				t.Errorf("Decide = %+v", d)
			}
		})
	}
}
