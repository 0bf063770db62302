package localcloud

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// withNodeRole defines the role kelp-node and its instance profile.
func withNodeRole(o *Options) {
	o.Roles = []Role{{Name: "kelp-node"}}
	o.InstanceProfiles = []InstanceProfile{{Name: "kelp-node-profile", Role: "kelp-node"}}
}

// fromAddress is an HTTP client whose connections leave from ip, as an
// instance's would.
func fromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// metadataClient is the SDK's IMDS client of the instance at ip.
func metadataClient(url, ip string) *imds.Client {
	return imds.New(imds.Options{Endpoint: url, HTTPClient: fromAddress(ip), ClientEnableState: imds.ClientEnabled})
}

// callerARN asks STS who signs with creds.
func (e *env) callerARN(creds aws.Credentials) (string, error) {
	cfg := aws.Config{Region: DefaultRegion, Credentials: credentials.StaticCredentialsProvider{Value: creds}}
	out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.srv.URL) }).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Arn), nil
}

func TestMetadataServesEachInstanceItsRoleCredentials(t *testing.T) {
	e := newEnv(t, withNodeRole, func(o *Options) { o.RoleCredentialsTTL = time.Hour })
	md := httptest.NewServer(e.cloud.Metadata())
	t.Cleanup(md.Close)
	subnet := e.cloud.region.Zones[0].SubnetID
	a := must[string](t)(e.cloud.RunInstance(RunInstanceInput{SubnetID: subnet, InstanceProfile: "kelp-node-profile"}))
	b := must[string](t)(e.cloud.RunInstance(RunInstanceInput{SubnetID: subnet, InstanceProfile: "kelp-node-profile"}))
	ipA, ipB := aws.ToString(e.instance(a).PrivateIpAddress), aws.ToString(e.instance(b).PrivateIpAddress)

	// IMDSv1 (no token) is refused.
	resp := must[*http.Response](t)(fromAddress(ipA).Get(md.URL + "/latest/meta-data/instance-id"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET without a token: %s, want 401", resp.Status)
	}
	// A token of instance a does not work from b's address.
	req, _ := http.NewRequest(http.MethodPut, md.URL+"/latest/api/token", nil)
	req.Header.Set(imdsTokenTTLHeader, "60")
	resp = must[*http.Response](t)(fromAddress(ipA).Do(req))
	token := string(must[[]byte](t)(io.ReadAll(resp.Body)))
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodGet, md.URL+"/latest/meta-data/instance-id", nil)
	req.Header.Set(imdsTokenHeader, token)
	if resp = must[*http.Response](t)(fromAddress(ipB).Do(req)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a's token from b's address: %s, want 401", resp.Status)
	}
	resp.Body.Close()

	doc := must[imds.GetInstanceIdentityDocumentOutput](t)(deref(metadataClient(md.URL, ipB).GetInstanceIdentityDocument(ctx, nil)))
	if doc.InstanceID != b || doc.Region != DefaultRegion || doc.AccountID != AccountID || doc.PrivateIP != ipB {
		t.Errorf("identity document of b = %+v", doc.InstanceIdentityDocument)
	}
	credsOf := func(ip string) aws.Credentials {
		t.Helper()
		p := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = metadataClient(md.URL, ip) })
		return must[aws.Credentials](t)(p.Retrieve(ctx))
	}
	credsA, credsB := credsOf(ipA), credsOf(ipB)
	if credsA.AccessKeyID == credsB.AccessKeyID || credsA.SessionToken == "" || !credsA.CanExpire {
		t.Fatalf("credentials of a %+v and b %+v: want distinct temporary keys", credsA, credsB)
	}
	for id, creds := range map[string]aws.Credentials{a: credsA, b: credsB} {
		if arn := must[string](t)(e.callerARN(creds)); arn != AssumedRoleARN("kelp-node", id) {
			t.Errorf("GetCallerIdentity = %s, want %s", arn, AssumedRoleARN("kelp-node", id))
		}
	}
	if creds := credsOf(ipA); creds.AccessKeyID != credsA.AccessKeyID {
		t.Errorf("credentials rotated early: %s then %s", credsA.AccessKeyID, creds.AccessKeyID)
	}

	// With a quarter of their hour left, new credentials; the old ones work until they expire.
	e.clock.Step(46 * time.Minute)
	rotated := credsOf(ipA)
	if rotated.AccessKeyID == credsA.AccessKeyID || !rotated.Expires.After(credsA.Expires) {
		t.Fatalf("not rotated: %+v after %+v", rotated, credsA)
	}
	if _, err := e.callerARN(credsA); err != nil {
		t.Errorf("old credentials before they expire: %v", err)
	}
	e.clock.Step(15 * time.Minute)
	if _, err := e.callerARN(credsA); apiCode(t, err) != "ExpiredToken" {
		t.Errorf("expired credentials: %v, want ExpiredToken", err)
	}
	if _, err := e.callerARN(rotated); err != nil {
		t.Errorf("rotated credentials: %v", err)
	}
	tampered := rotated
	tampered.SessionToken = credsB.SessionToken
	if _, err := e.callerARN(tampered); apiCode(t, err) != "InvalidClientTokenId" {
		t.Errorf("another instance's session token: %v, want InvalidClientTokenId", err)
	}
}

func deref[T any](p *T, err error) (T, error) {
	if p == nil {
		var zero T
		return zero, err
	}
	return *p, err
}

func TestMetadataRefusesUnknownAddresses(t *testing.T) {
	e := newEnv(t, withNodeRole)
	md := httptest.NewServer(e.cloud.Metadata())
	t.Cleanup(md.Close)
	subnet := e.cloud.region.Zones[0].SubnetID
	bare := must[string](t)(e.cloud.RunInstance(RunInstanceInput{SubnetID: subnet}))
	ip := aws.ToString(e.instance(bare).PrivateIpAddress)

	if _, err := metadataClient(md.URL, "127.0.0.1").GetMetadata(ctx, &imds.GetMetadataInput{Path: "instance-id"}); err == nil {
		t.Error("an address no instance has got metadata")
	}
	out := must[*imds.GetMetadataOutput](t)(metadataClient(md.URL, ip).GetMetadata(ctx, &imds.GetMetadataInput{Path: "local-hostname"}))
	host := string(must[[]byte](t)(io.ReadAll(out.Content)))
	if host != aws.ToString(e.instance(bare).PrivateDnsName) {
		t.Errorf("local-hostname = %q", host)
	}
	if _, err := metadataClient(md.URL, ip).GetMetadata(ctx, &imds.GetMetadataInput{Path: "iam/security-credentials/"}); err == nil {
		t.Error("an instance without a profile got a role")
	}
}

func TestInstanceProfileOfLaunchTemplate(t *testing.T) {
	e := newEnv(t, withNodeRole)
	data := e.templateData("m5.large")
	data.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("kelp-node-profile")}
	lt := must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("node"), LaunchTemplateData: data}))
	e.createGroup("g", aws.ToString(lt.LaunchTemplate.LaunchTemplateId), 0, 1, 1)
	inst := e.instance(aws.ToString(e.waitSettled("g", 1)[0].InstanceId))
	if inst.IamInstanceProfile == nil || aws.ToString(inst.IamInstanceProfile.Arn) != InstanceProfileARN("kelp-node-profile") ||
		!strings.HasPrefix(aws.ToString(inst.IamInstanceProfile.Id), "AIPA") {
		t.Fatalf("iamInstanceProfile = %+v", inst.IamInstanceProfile)
	}

	client := iam.NewFromConfig(aws.Config{Region: DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")},
		func(o *iam.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	out := must[*iam.GetInstanceProfileOutput](t)(client.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{
		InstanceProfileName: aws.String("kelp-node-profile")}))
	if p := out.InstanceProfile; len(p.Roles) != 1 || aws.ToString(p.Roles[0].RoleName) != "kelp-node" ||
		aws.ToString(p.Roles[0].Arn) != RoleARN("kelp-node") || aws.ToString(p.Arn) != InstanceProfileARN("kelp-node-profile") {
		t.Errorf("GetInstanceProfile = %+v", p)
	}
	_, err := client.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("nope")})
	if apiCode(t, err) != "NoSuchEntity" {
		t.Errorf("unknown profile: %v, want NoSuchEntity", err)
	}

	// A template naming a profile that does not exist fails its launches.
	data.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("nope")}
	bad := must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("bad"), LaunchTemplateData: data}))
	e.createGroup("bad", aws.ToString(bad.LaunchTemplate.LaunchTemplateId), 0, 1, 1)
	testenv.EventuallyTrue(t, waitTimeout, "a failed launch", func() bool {
		acts := e.activities("bad")
		return len(acts) > 0 && strings.Contains(aws.ToString(acts[0].StatusMessage), "Invalid IAM Instance Profile name")
	})
}

func TestOpenRefusesBadRoles(t *testing.T) {
	_, err := Open(Options{Dir: t.TempDir(), Roles: []Role{{Name: "a"}, {Name: "a"}, {Name: "b c"}},
		InstanceProfiles: []InstanceProfile{{Name: "p", Role: "missing"}}})
	for _, want := range []string{`"a" is defined twice`, `"b c"`, `role "missing" is not defined`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open = %v, want it to say %s", err, want)
		}
	}
}

func TestLoadRoles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "team.json"), []byte(iamTestPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.yaml")
	text := "principals: []\nroles:\n- name: kelp-node\n  policies: [team.json]\n  replace: {REGION: us-east-1, ACCOUNT: \"000000000000\"}\n" +
		"- name: bare\ninstanceProfiles:\n- {name: kelp-node, role: kelp-node}\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	roles, profiles, err := LoadRoles(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 2 || roles[0].Name != "kelp-node" || len(roles[0].Authorizer.(Policies)) != 1 ||
		roles[1].Authorizer.Authorize(Access{Service: "ec2", Action: "DescribeInstances"}) == nil {
		t.Errorf("roles = %+v: want kelp-node with its policy and bare allowed nothing", roles)
	}
	if len(profiles) != 1 || profiles[0] != (InstanceProfile{Name: "kelp-node", Role: "kelp-node"}) {
		t.Errorf("profiles = %+v", profiles)
	}
	if err := os.WriteFile(path, []byte("roles:\n- name: x\n  policies: [missing.json]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadRoles(path)
	testenv.ErrorContains(t, err, "role 1 (x)", "missing.json")
}
