package join

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/kelp-dev/kelp/internal/bootstrap"
)

// Identity is the caller STS vouched for: an instance's session of an
// assumed role, arn:<partition>:sts::<account>:assumed-role/<role>/<instance-id>.
type Identity struct {
	ARN        string
	Partition  string
	Account    string
	Role       string
	InstanceID string
}

// callerIdentityResponse is STS's GetCallerIdentity answer.
type callerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
}

// ParseCallerIdentity returns the Arn of a GetCallerIdentity response
// body.
func ParseCallerIdentity(body []byte) (string, error) {
	var r callerIdentityResponse
	if err := xml.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("parse GetCallerIdentity response: %w", err)
	}
	if r.Result.Arn == "" {
		return "", fmt.Errorf("parse GetCallerIdentity response: no Arn")
	}
	return r.Result.Arn, nil
}

var (
	partitionPattern = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	accountPattern   = regexp.MustCompile(`^[0-9]{12}$`)
)

// CheckIdentity accepts only arn:<partition>:sts::<account>:assumed-role/<role>/<instance-id>
// with role among pol.AllowedRoles and, when pol.Account is set, that
// account. Anything else is a *Refusal: ReasonNotInstanceSession (not an
// assumed-role session, or a session name that is not an instance id) or
// ReasonRoleNotAllowed.
func CheckIdentity(arn string, pol Policy) (Identity, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !partitionPattern.MatchString(parts[1]) || parts[2] != "sts" ||
		parts[3] != "" || !accountPattern.MatchString(parts[4]) {
		return Identity{}, refuse(ReasonNotInstanceSession, "caller %.200q is not an STS assumed-role session", arn)
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 3 || res[0] != "assumed-role" || res[1] == "" {
		return Identity{}, refuse(ReasonNotInstanceSession, "caller %.200q is not an assumed-role session", arn)
	}
	id := Identity{ARN: arn, Partition: parts[1], Account: parts[4], Role: res[1], InstanceID: res[2]}
	if !bootstrap.IsInstanceID(id.InstanceID) {
		return Identity{}, refuse(ReasonNotInstanceSession, "session name %.80q of %s is not an instance id", id.InstanceID, arn)
	}
	if !slices.Contains(pol.AllowedRoles, id.Role) {
		return Identity{}, refuse(ReasonRoleNotAllowed, "role %q is not a node role of this cluster (allowed: %s)", id.Role, strings.Join(pol.AllowedRoles, ", "))
	}
	if pol.Account != "" && id.Account != pol.Account {
		return Identity{}, refuse(ReasonRoleNotAllowed, "account %s is not this cluster's (%s)", id.Account, pol.Account)
	}
	return id, nil
}
