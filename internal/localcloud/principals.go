package localcloud

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Static credentials of the local cloud: the keys of [DefaultPrincipal].
// kelp up writes them to the cluster's env file as AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY.
const (
	AccessKeyID     = "AKIAKELPLOCAL0000000"
	SecretAccessKey = "kelpLocalCloudSecretAccessKey/0000000000"
)

// AccountID is the AWS account that owns every local resource.
const AccountID = "000000000000"

// Principal is a caller the local cloud knows: who it is and the keys it
// signs its requests with.
type Principal struct {
	// Name and ARN identify the caller (in logs and, later, policies).
	Name, ARN string
	// AccessKeyID and SecretAccessKey are the signing keys; AccessKeyID is
	// unique among principals.
	AccessKeyID, SecretAccessKey string
	// SessionToken, when set, makes the keys temporary: every request must
	// carry it in X-Amz-Security-Token.
	SessionToken string
	// Expires is when temporary keys stop working; zero: never.
	Expires time.Time
	// Authorizer decides what the principal may do; nil allows everything.
	Authorizer Authorizer
}

// Access is one request an Authorizer rules on.
type Access struct {
	Principal Principal
	// Service is the service's signing name, the prefix of IAM actions
	// ("ec2", "autoscaling"); Action the action's name ("DescribeInstances").
	Service, Action string
	// Resources the request acts on, with their tags; none for actions
	// that take no resource (Describe*, List*: "*" in IAM terms).
	Resources []Resource
	// RequestTags are the tags the request puts (aws:RequestTag/...,
	// aws:TagKeys); nil when it puts none.
	RequestTags map[string]string
	// Context holds further condition keys of the request
	// ("ec2:CreateAction" when a create action tags what it creates).
	Context map[string][]string
}

// Authorizer decides whether a principal may make a request: nil allows
// it, an error denies it (the caller gets the protocol's access-denied
// error with the error's text).
type Authorizer interface {
	Authorize(Access) error
}

// AllowAll is the Authorizer of a principal without a policy.
type AllowAll struct{}

// Authorize implements Authorizer: everything is allowed.
func (AllowAll) Authorize(Access) error { return nil }

// DefaultPrincipal is the account's own static keys, [AccessKeyID] and
// [SecretAccessKey], allowed everything. Every cloud knows it.
func DefaultPrincipal() Principal {
	return Principal{Name: "root", ARN: "arn:aws:iam::" + AccountID + ":root",
		AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
}

// AddPrincipal lets p sign requests from now on, replacing the principal
// that had the same access key id.
func (c *Cloud) AddPrincipal(p Principal) error {
	if err := c.principals.add(p); err != nil {
		return fmt.Errorf("add principal %s: %w", p.Name, err)
	}
	return nil
}

// RemovePrincipal forgets the principal with the access key id: its
// requests fail from now on as signed with an unknown key.
func (c *Cloud) RemovePrincipal(accessKeyID string) { c.principals.remove(accessKeyID) }

// principals is the credential store: principals by access key id.
type principals struct {
	mu    sync.RWMutex
	byKey map[string]Principal
}

func newPrincipals(ps ...Principal) *principals {
	s := &principals{byKey: map[string]Principal{}}
	for _, p := range ps {
		s.byKey[p.AccessKeyID] = p
	}
	return s
}

func (s *principals) add(p Principal) error {
	var errs []error
	if p.AccessKeyID == "" {
		errs = append(errs, errors.New("missing AccessKeyID"))
	}
	if p.SecretAccessKey == "" {
		errs = append(errs, errors.New("missing SecretAccessKey"))
	}
	if !p.Expires.IsZero() && p.SessionToken == "" {
		errs = append(errs, errors.New("an Expires without a SessionToken: only temporary keys expire"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey[p.AccessKeyID] = p
	return nil
}

func (s *principals) remove(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byKey, accessKeyID)
}

// resolve returns the principal whose keys a request signed with
// accessKeyID and carrying token (X-Amz-Security-Token, "" when absent)
// may use at now: the key must be known, a temporary key's token sent and
// right and not expired, a long-term key's token absent.
func (s *principals) resolve(accessKeyID, token string, now time.Time) (Principal, *failed) {
	s.mu.RLock()
	p, ok := s.byKey[accessKeyID]
	s.mu.RUnlock()
	const invalid = "The security token included in the request is invalid."
	switch {
	case !ok, token != p.SessionToken:
		return Principal{}, fail(failUnknownKey, invalid)
	case !p.Expires.IsZero() && !now.Before(p.Expires):
		return Principal{}, fail(failExpiredToken, "The security token included in the request is expired")
	}
	return p, nil
}

// authorize asks p's Authorizer about a request: an *apiError it returns
// is answered as is; any other error is the protocol's access-denied
// failure with the error's text as its message (EC2 prefixes it with
// "You are not authorized to perform this operation.", as AWS does).
func (p Principal) authorize(a Access) error {
	if p.Authorizer == nil {
		return nil
	}
	a.Principal = p
	err := p.Authorizer.Authorize(a)
	if err == nil {
		return nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	msg := err.Error()
	var denied *DeniedError
	if !errors.As(err, &denied) {
		msg = fmt.Sprintf("User: %s is not authorized to perform: %s:%s: %v", p.ARN, a.Service, a.Action, err)
	}
	switch a.Service {
	case "ec2":
		msg = "You are not authorized to perform this operation. " + msg
	case "sqs": // SQS answers 403 and the query code AccessDenied
		return &apiError{Code: "com.amazon.coral.service#AccessDeniedException", Message: msg, Status: http.StatusForbidden, QueryError: "AccessDenied;Sender"}
	}
	return fail(failAccessDenied, msg)
}
