package localcloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// rawRequest is a hand-made request: signed with creds (unsigned when
// creds is nil), then changed by tamper.
type rawRequest struct {
	method, service string
	form            url.Values
	creds           *aws.Credentials
	region          string
	tamper          func(*http.Request)
}

func (e *env) do(r rawRequest) (int, string) {
	e.t.Helper()
	body := r.form.Encode()
	target := e.srv.URL + "/"
	var rd io.Reader = strings.NewReader(body)
	if r.method == http.MethodGet {
		target += "?" + body
		body, rd = "", nil
	}
	req, err := http.NewRequest(r.method, target, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if r.creds != nil {
		sum := sha256.Sum256([]byte(body))
		region := r.region
		if region == "" {
			region = "us-east-1"
		}
		if err := v4.NewSigner().SignHTTP(context.Background(), *r.creds, req, hex.EncodeToString(sum[:]), r.service, region, time.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	if r.tamper != nil {
		r.tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

var goodCreds = &aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}

func asForm(action string, kv ...string) url.Values {
	v := url.Values{"Action": {action}, "Version": {autoScalingVersion}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func ec2Form(action string, kv ...string) url.Values {
	v := asForm(action, kv...)
	v.Set("Version", ec2Version)
	return v
}

func TestSDKAuthFailures(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, key, secret, want string
	}{
		{"wrong secret", AccessKeyID, "not-the-secret", codeSignatureDoesNotMatch},
		{"unknown access key", "AKIAUNKNOWN000000000", SecretAccessKey, codeInvalidClientTokenID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
				Credentials: credentials.NewStaticCredentialsProvider(tt.key, tt.secret, "")}
			as := autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
			_, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
			wantCode(t, err, tt.want)
			ec := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
			_, err = ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			wantCode(t, err, tt.want)
		})
	}
}

func TestRawProtocolErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		req        rawRequest
		wantStatus int
		wantBody   []string
	}{
		{"unsigned autoscaling", rawRequest{method: "POST", form: asForm("DescribeAutoScalingGroups")}, 403,
			[]string{`<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">`, "<Type>Sender</Type>",
				"<Code>MissingAuthenticationToken</Code>", "<RequestId>"}},
		{"unsigned ec2", rawRequest{method: "POST", form: ec2Form("DescribeInstances")}, 403,
			[]string{"<Response><Errors><Error><Code>MissingAuthenticationToken</Code>", "<RequestID>"}},
		{"unknown autoscaling action", rawRequest{method: "POST", service: "autoscaling", creds: goodCreds,
			form: asForm("LaunchRockets")}, 400, []string{"<Code>InvalidAction</Code>", "<ErrorResponse"}},
		{"unknown ec2 action", rawRequest{method: "POST", service: "ec2", creds: goodCreds,
			form: ec2Form("LaunchRockets")}, 400, []string{"<Response><Errors><Error><Code>InvalidAction</Code>"}},
		{"wrong version", rawRequest{method: "POST", service: "ec2", creds: goodCreds,
			form: asForm("DescribeInstances")}, 400, []string{"<Code>NoSuchVersion</Code>"}},
		{"body changed after signing", rawRequest{method: "POST", service: "autoscaling", creds: goodCreds,
			form: asForm("DescribeAutoScalingGroups"), tamper: func(r *http.Request) {
				body := asForm("DescribeAutoScalingGroups", "MaxRecords", "5").Encode()
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
			}}, 403, []string{"<Code>SignatureDoesNotMatch</Code>"}},
		{"other region", rawRequest{method: "POST", service: "autoscaling", creds: goodCreds, region: "eu-west-1",
			form: asForm("DescribeAutoScalingGroups")}, 403, []string{"<Code>SignatureDoesNotMatch</Code>"}},
		{"garbage authorization", rawRequest{method: "POST", form: asForm("DescribeAutoScalingGroups"),
			tamper: func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 nonsense") }}, 403,
			[]string{"<Code>IncompleteSignature</Code>"}},
		{"not a form", rawRequest{method: "POST", service: "autoscaling", creds: goodCreds, form: asForm("DescribeAutoScalingGroups"),
			tamper: func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }}, 400,
			[]string{"<Code>MalformedQueryString</Code>"}},
		{"bad integer (autoscaling)", rawRequest{method: "POST", service: "autoscaling", creds: goodCreds,
			form: asForm("DescribeAutoScalingGroups", "MaxRecords", "many")}, 400, []string{"<Code>ValidationError</Code>"}},
		{"bad integer (ec2)", rawRequest{method: "POST", service: "ec2", creds: goodCreds,
			form: ec2Form("DescribeInstances", "MaxResults", "many")}, 400, []string{"<Code>InvalidParameterValue</Code>"}},
		{"dry run", rawRequest{method: "POST", service: "ec2", creds: goodCreds,
			form: ec2Form("DescribeInstances", "DryRun", "true")}, 412, []string{"<Code>DryRunOperation</Code>"}},
		{"missing required ec2 parameter", rawRequest{method: "POST", service: "ec2", creds: goodCreds,
			form: ec2Form("CreateLaunchTemplate", "LaunchTemplateData.ImageId", ImageLocalNode)}, 400,
			[]string{"<Code>MissingParameter</Code>", "LaunchTemplateName"}},
		{"missing required autoscaling parameter", rawRequest{method: "POST", service: "autoscaling", creds: goodCreds,
			form: asForm("SetDesiredCapacity", "DesiredCapacity", "1")}, 400,
			[]string{"<Code>ValidationError</Code>", "autoScalingGroupName"}},
		{"missing action", rawRequest{method: "POST", service: "autoscaling", creds: goodCreds,
			form: url.Values{"Version": {autoScalingVersion}}}, 400, []string{"<Code>MissingAction</Code>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(tt.req)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d\n%s", status, tt.wantStatus, body)
			}
			testenv.Contains(t, "body", body, tt.wantBody...)
		})
	}
}

func TestRawResponseEnvelopes(t *testing.T) {
	e := newEnv(t)
	status, body := e.do(rawRequest{method: "POST", service: "autoscaling", creds: goodCreds, form: asForm("DescribeAutoScalingGroups")})
	if status != 200 {
		t.Errorf("autoscaling response status = %d, want 200:\n%s", status, body)
	}
	testenv.Contains(t, "autoscaling response", body,
		`<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">`,
		"<DescribeAutoScalingGroupsResult><AutoScalingGroups></AutoScalingGroups></DescribeAutoScalingGroupsResult>",
		"<ResponseMetadata><RequestId>")
	// A signed GET with the parameters in the query string.
	status, body = e.do(rawRequest{method: "GET", service: "ec2", creds: goodCreds, form: ec2Form("DescribeAvailabilityZones")})
	if status != 200 {
		t.Errorf("ec2 response status = %d, want 200:\n%s", status, body)
	}
	testenv.Contains(t, "ec2 response", body,
		`<DescribeAvailabilityZonesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`,
		"<availabilityZoneInfo><item>", "<zoneName>us-east-1a</zoneName>")
	if strings.Contains(body, "Result>") {
		t.Errorf("ec2 response has a result wrapper:\n%s", body)
	}
}

func TestListenReusesPort(t *testing.T) {
	e := newEnv(t)
	s, err := Listen(0, e.cloud, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL = %s", s.URL())
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = Listen(port, e.cloud, testLogger())
	if err != nil {
		t.Fatalf("listen again on %d: %v", port, err)
	}
	defer s.Shutdown(ctx) //nolint:errcheck
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")}
	ec := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(s.URL()) })
	out, err := ec.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil || len(out.AvailabilityZones) != 3 {
		t.Fatalf("DescribeAvailabilityZones via Listen: %v %v", out, err)
	}
	if _, err := Listen(port, e.cloud, nil); err == nil {
		t.Fatalf("a second Listen on busy port %d succeeded", port)
	}
}
