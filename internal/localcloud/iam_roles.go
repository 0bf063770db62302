package localcloud

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Role is an IAM role instances assume through an instance profile: the
// temporary credentials the metadata service hands an instance act as
// arn:aws:sts::<account>:assumed-role/<role>/<instance-id>.
type Role struct {
	// Name is the role's name (its ARN is arn:aws:iam::<account>:role/<name>).
	Name string
	// Authorizer decides what the role's sessions may do ([Policies]
	// enforces the role's policies); nil allows everything.
	Authorizer Authorizer
}

// InstanceProfile is an IAM instance profile: the container a launch
// template names (IamInstanceProfile) to give its instances a role.
type InstanceProfile struct {
	// Name is the profile's name (its ARN is
	// arn:aws:iam::<account>:instance-profile/<name>).
	Name string
	// Role is the name of the profile's one role (AWS allows one).
	Role string
}

// RoleARN returns a role's ARN in the local account.
func RoleARN(name string) string { return "arn:aws:iam::" + AccountID + ":role/" + name }

// InstanceProfileARN returns an instance profile's ARN in the local account.
func InstanceProfileARN(name string) string {
	return "arn:aws:iam::" + AccountID + ":instance-profile/" + name
}

// AssumedRoleARN is the ARN of an instance's role session, as STS's
// GetCallerIdentity answers it for instance-profile credentials.
func AssumedRoleARN(role, instanceID string) string {
	return "arn:aws:sts::" + AccountID + ":assumed-role/" + role + "/" + instanceID
}

// iamIDOf is an IAM unique id (AROA..., AIPA..., AIDA...): prefix and 16
// characters derived from name, stable across restarts.
func iamIDOf(prefix, name string) string {
	sum := sha256.Sum256([]byte(prefix + "/" + name))
	return prefix + base32.StdEncoding.EncodeToString(sum[:])[:16]
}

// iamState is the roles, instance profiles and the temporary credentials
// handed to instances (imds.go). Roles and profiles come from Options and
// do not change.
type iamState struct {
	roles    map[string]Role
	profiles map[string]InstanceProfile
	created  time.Time // the CreateDate of every role and profile

	mu     sync.Mutex
	creds  map[string]*instanceCreds // by instance id
	tokens map[string]imdsToken      // IMDSv2 session tokens
}

// newIAMState checks the roles and profiles: names unique and well formed,
// every profile's role defined.
func newIAMState(roles []Role, profiles []InstanceProfile, created time.Time) (*iamState, error) {
	s := &iamState{roles: map[string]Role{}, profiles: map[string]InstanceProfile{}, created: created,
		creds: map[string]*instanceCreds{}, tokens: map[string]imdsToken{}}
	var errs []error
	for i, r := range roles {
		switch {
		case !iamNameOK(r.Name):
			errs = append(errs, fmt.Errorf("role %d: name %q: want 1-64 of [A-Za-z0-9+=,.@_-]", i+1, r.Name))
		case s.roles[r.Name].Name != "":
			errs = append(errs, fmt.Errorf("role %d: name %q is defined twice", i+1, r.Name))
		default:
			s.roles[r.Name] = r
		}
	}
	for i, p := range profiles {
		switch {
		case !iamNameOK(p.Name):
			errs = append(errs, fmt.Errorf("instance profile %d: name %q: want 1-64 of [A-Za-z0-9+=,.@_-]", i+1, p.Name))
		case s.profiles[p.Name].Name != "":
			errs = append(errs, fmt.Errorf("instance profile %d: name %q is defined twice", i+1, p.Name))
		case p.Role != "" && s.roles[p.Role].Name == "":
			errs = append(errs, fmt.Errorf("instance profile %s: role %q is not defined", p.Name, p.Role))
		default:
			s.profiles[p.Name] = p
		}
	}
	return s, errors.Join(errs...)
}

// iamNameOK reports whether name is a valid IAM role or profile name.
func iamNameOK(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r)) {
			return false
		}
	}
	return true
}

// profileNamed finds a profile by the name or ARN a launch template or
// RunInstances gives (IamInstanceProfile.Name or .Arn).
func (s *iamState) profileNamed(nameOrARN string) (InstanceProfile, bool) {
	name := strings.TrimPrefix(nameOrARN, "arn:aws:iam::"+AccountID+":instance-profile/")
	p, ok := s.profiles[name]
	return p, ok
}

// iamService is IAM's query API (2010-05-08): GetInstanceProfile. IAM is
// global: requests may be signed for us-east-1 as well as the cloud's
// region.
func (c *Cloud) iamService() *service {
	return &service{signingName: "iam", name: "AWSIdentityManagementV20100508", version: "2010-05-08",
		namespace: "https://iam.amazonaws.com/doc/2010-05-08/", proto: queryProtocol{}, global: true,
		actions: map[string]handler{"GetInstanceProfile": c.getInstanceProfile}}
}

type iamRoleXML struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
}

type instanceProfileXML struct {
	Path                string       `xml:"Path"`
	InstanceProfileName string       `xml:"InstanceProfileName"`
	InstanceProfileID   string       `xml:"InstanceProfileId"`
	Arn                 string       `xml:"Arn"`
	CreateDate          string       `xml:"CreateDate"`
	Roles               []iamRoleXML `xml:"Roles>member"`
}

type getInstanceProfileResult struct {
	InstanceProfile instanceProfileXML `xml:"InstanceProfile"`
}

// ec2TrustPolicy is the trust policy of every local role: EC2 may assume
// it (what an instance profile's role needs), URL-encoded as IAM answers.
var ec2TrustPolicy = url.QueryEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)

// getInstanceProfile answers iam:GetInstanceProfile: the profile and its
// role, or NoSuchEntity.
func (c *Cloud) getInstanceProfile(in *call) (any, error) {
	name, err := in.params.required("InstanceProfileName")
	if err != nil {
		return nil, err
	}
	p, ok := c.iam.profiles[name]
	if !ok {
		return nil, &apiError{Code: "NoSuchEntity", Message: "Instance Profile " + name + " cannot be found.", Status: http.StatusNotFound}
	}
	created := c.iam.created.UTC().Format(time.RFC3339)
	x := instanceProfileXML{Path: "/", InstanceProfileName: p.Name, InstanceProfileID: iamIDOf("AIPA", p.Name),
		Arn: InstanceProfileARN(p.Name), CreateDate: created, Roles: []iamRoleXML{}}
	if p.Role != "" {
		x.Roles = append(x.Roles, iamRoleXML{Path: "/", RoleName: p.Role, RoleID: iamIDOf("AROA", p.Role), Arn: RoleARN(p.Role),
			CreateDate: created, AssumeRolePolicyDocument: ec2TrustPolicy})
	}
	return getInstanceProfileResult{InstanceProfile: x}, nil
}

// stsService is STS's query API (2011-06-15): GetCallerIdentity, which
// needs no permission (an explicit Deny does not stop it), as on AWS. STS's
// global endpoint signs for us-east-1, so that region is accepted too.
func (c *Cloud) stsService() *service {
	return &service{signingName: "sts", name: "AWSSecurityTokenServiceV20110615", version: "2011-06-15",
		namespace: "https://sts.amazonaws.com/doc/2011-06-15/", proto: queryProtocol{}, global: true,
		actions:      map[string]handler{"GetCallerIdentity": c.getCallerIdentity},
		noPermission: map[string]bool{"GetCallerIdentity": true}}
}

type callerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

// getCallerIdentity answers who signed the request: for an instance's
// role credentials arn:aws:sts::<account>:assumed-role/<role>/<instance-id>
// with UserId <role id>:<instance-id>.
func (c *Cloud) getCallerIdentity(in *call) (any, error) {
	arn := in.caller.ARN
	res := callerIdentityResult{Arn: arn, Account: AccountID}
	switch {
	case strings.HasPrefix(arn, "arn:aws:sts::"+AccountID+":assumed-role/"):
		role, session, _ := strings.Cut(strings.TrimPrefix(arn, "arn:aws:sts::"+AccountID+":assumed-role/"), "/")
		res.UserID = iamIDOf("AROA", role) + ":" + session
	case arn == DefaultPrincipal().ARN:
		res.UserID = AccountID
	default:
		res.UserID = iamIDOf("AIDA", arn)
	}
	return res, nil
}
