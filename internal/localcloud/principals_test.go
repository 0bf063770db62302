package localcloud

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/kelp-dev/kelp/internal/testenv"
)

var tempPrincipal = Principal{Name: "node", ARN: "arn:aws:sts::" + AccountID + ":assumed-role/node/i-1",
	AccessKeyID: "ASIAKELPTEMP00000000", SecretAccessKey: "tempSecret", SessionToken: "session-token",
	Expires: testStart.Add(time.Hour)}

func TestPrincipalsResolve(t *testing.T) {
	s := newPrincipals(DefaultPrincipal())
	if err := s.add(tempPrincipal); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		key       string
		token     string
		now       time.Time
		want      string // principal name
		wantFault failureKind
	}{
		{"static key", AccessKeyID, "", testStart, "root", 0},
		{"unknown key", "AKIAUNKNOWN000000000", "", testStart, "", failUnknownKey},
		{"static key with a token", AccessKeyID, "session-token", testStart, "", failUnknownKey},
		{"session token ok", tempPrincipal.AccessKeyID, "session-token", testStart, "node", 0},
		{"session token missing", tempPrincipal.AccessKeyID, "", testStart, "", failUnknownKey},
		{"session token wrong", tempPrincipal.AccessKeyID, "other-token", testStart, "", failUnknownKey},
		{"just before expiry", tempPrincipal.AccessKeyID, "session-token", tempPrincipal.Expires.Add(-time.Nanosecond), "node", 0},
		{"expired", tempPrincipal.AccessKeyID, "session-token", tempPrincipal.Expires, "", failExpiredToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, f := s.resolve(tt.key, tt.token, tt.now)
			switch {
			case tt.wantFault != 0 && (f == nil || f.kind != tt.wantFault):
				t.Fatalf("resolve = %+v, %v; want failure %d", p, f, tt.wantFault)
			case tt.wantFault == 0 && (f != nil || p.Name != tt.want):
				t.Fatalf("resolve = %+v, %v; want %s", p, f, tt.want)
			}
		})
	}
	s.remove(tempPrincipal.AccessKeyID)
	if _, f := s.resolve(tempPrincipal.AccessKeyID, "session-token", testStart); f == nil || f.kind != failUnknownKey {
		t.Fatalf("a removed key resolved: %v", f)
	}
}

func TestPrincipalsAddValidates(t *testing.T) {
	err := newPrincipals().add(Principal{Name: "x", Expires: testStart})
	testenv.ErrorContains(t, err, "AccessKeyID", "SecretAccessKey", "SessionToken")
}

// denyEC2 denies every EC2 action.
type denyEC2 struct{}

func (denyEC2) Authorize(a Access) error {
	if a.Service == "ec2" {
		return errDenied
	}
	return nil
}

var errDenied = errors.New("explicit deny")

// hasCode reports whether err carries the AWS error code want.
func hasCode(err error, want string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == want
}

// clients returns Auto Scaling and EC2 clients signing with the keys.
func (e *env) clients(key, secret, token string) (*autoscaling.Client, *ec2.Client) {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, token)}
	return autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(e.srv.URL) }),
		ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
}

func TestPrincipalsOverTheWire(t *testing.T) {
	e := newEnv(t)
	p := tempPrincipal
	p.Authorizer = denyEC2{}
	if err := e.cloud.AddPrincipal(p); err != nil {
		t.Fatal(err)
	}
	call := func(key, secret, token string) (asErr, ec2Err error) {
		as, ec := e.clients(key, secret, token)
		_, asErr = as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
		_, ec2Err = ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		return asErr, ec2Err
	}
	asErr, ec2Err := call(p.AccessKeyID, p.SecretAccessKey, p.SessionToken)
	if asErr != nil {
		t.Fatalf("temporary keys with their token: %v", asErr)
	}
	wantCode(t, ec2Err, "UnauthorizedOperation") // the principal's Authorizer
	// The denial says who and why.
	testenv.ErrorContains(t, ec2Err, "explicit deny", p.ARN)
	for _, tt := range []struct {
		name, secret, token, want string
	}{
		{"token missing", p.SecretAccessKey, "", codeInvalidClientTokenID},
		{"token wrong", p.SecretAccessKey, "other", codeInvalidClientTokenID},
		{"secret wrong", "other", p.SessionToken, codeSignatureDoesNotMatch},
	} {
		asErr, _ := call(p.AccessKeyID, tt.secret, tt.token)
		if !hasCode(asErr, tt.want) {
			t.Errorf("%s: %v, want %s", tt.name, asErr, tt.want)
		}
	}
	e.clock.Step(time.Hour)
	asErr, ec2Err = call(p.AccessKeyID, p.SecretAccessKey, p.SessionToken)
	wantCode(t, asErr, "ExpiredToken")
	wantCode(t, ec2Err, "RequestExpired")

	e.cloud.RemovePrincipal(p.AccessKeyID)
	asErr, _ = call(p.AccessKeyID, p.SecretAccessKey, p.SessionToken)
	wantCode(t, asErr, codeInvalidClientTokenID)
	// The default principal keeps working throughout.
	if asErr, ec2Err := call(AccessKeyID, SecretAccessKey, ""); asErr != nil || ec2Err != nil {
		t.Fatalf("default principal: %v, %v", asErr, ec2Err)
	}
}
