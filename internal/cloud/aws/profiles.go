package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// IAMAPI is the part of the IAM client the provider uses: the roles of an
// instance's instance profile, for the identity join.
type IAMAPI interface {
	GetInstanceProfile(context.Context, *iam.GetInstanceProfileInput, ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
}

var _ IAMAPI = (*iam.Client)(nil)

// profileCache holds the role names of instances' instance profiles for
// Config.InstanceCacheTTL (a profile's role rarely changes; an instance's
// profile can be replaced, so entries do not live long).
type profileCache struct {
	mu      sync.Mutex
	entries map[string]cachedRoles // by instance id
}

type cachedRoles struct {
	roles []string
	at    time.Time
}

// InstanceProfileRoles returns the names of the roles of the instance's
// IAM instance profile (DescribeInstances' IamInstanceProfile ARN, then
// iam:GetInstanceProfile), none when the instance has no profile. Answers
// are cached for Config.InstanceCacheTTL; failures are not. It implements
// join.Profiles.
func (p *Provider) InstanceProfileRoles(ctx context.Context, instanceID string) ([]string, error) {
	if p.iam == nil {
		return nil, errors.New("instance profile roles: no IAM client (Deps.IAM)")
	}
	p.profiles.mu.Lock()
	e, ok := p.profiles.entries[instanceID]
	p.profiles.mu.Unlock()
	if ok && p.clock.Since(e.at) < p.cfg.InstanceCacheTTL {
		return slices.Clone(e.roles), nil
	}
	out, err := call(ctx, p, "DescribeInstances", func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) {
		return p.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	})
	if err != nil {
		return nil, fmt.Errorf("instance profile roles of %s: describe instance: %w", instanceID, err)
	}
	var arn string
	found := false
	for _, r := range out.Reservations {
		for _, inst := range r.Instances {
			if sdkaws.ToString(inst.InstanceId) == instanceID {
				found = true
				if inst.IamInstanceProfile != nil {
					arn = sdkaws.ToString(inst.IamInstanceProfile.Arn)
				}
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("instance profile roles of %s: no such instance", instanceID)
	}
	roles := []string{}
	if arn != "" {
		if roles, err = p.profileRoles(ctx, arn); err != nil {
			return nil, fmt.Errorf("instance profile roles of %s: %w", instanceID, err)
		}
	}
	p.profiles.mu.Lock()
	p.profiles.entries[instanceID] = cachedRoles{roles: roles, at: p.clock.Now()}
	p.profiles.mu.Unlock()
	return slices.Clone(roles), nil
}

// profileRoles asks IAM for the roles of the instance profile arn
// (arn:aws:iam::<account>:instance-profile[/path]/<name>).
func (p *Provider) profileRoles(ctx context.Context, arn string) ([]string, error) {
	_, rest, ok := strings.Cut(arn, ":instance-profile/")
	if !ok || rest == "" {
		return nil, fmt.Errorf("instance profile ARN %q: want arn:<partition>:iam::<account>:instance-profile/<name>", arn)
	}
	return p.namedProfileRoles(ctx, rest[strings.LastIndex(rest, "/")+1:])
}

// namedProfileRoles asks IAM for the roles of the instance profile name.
func (p *Provider) namedProfileRoles(ctx context.Context, name string) ([]string, error) {
	out, err := call(ctx, p, "GetInstanceProfile", func(ctx context.Context) (*iam.GetInstanceProfileOutput, error) {
		return p.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: sdkaws.String(name)})
	})
	if err != nil {
		return nil, fmt.Errorf("get instance profile %s: %w", name, err)
	}
	roles := []string{}
	if out.InstanceProfile != nil {
		for _, r := range out.InstanceProfile.Roles {
			roles = append(roles, sdkaws.ToString(r.RoleName))
		}
	}
	return roles, nil
}
