package aws

import (
	"context"
	"fmt"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// ProfileRoles implements pool.CloudReader: the role names of the
// instance profile a pool's launch template names (a name, or an ARN
// whose last path element is the name), through iam:GetInstanceProfile.
// A profile that does not exist wraps cloud.ErrNotFound.
func (p *Provider) ProfileRoles(ctx context.Context, profile string) ([]string, error) {
	name := profile
	if strings.HasPrefix(profile, "arn:") {
		_, rest, ok := strings.Cut(profile, ":instance-profile/")
		if !ok || rest == "" {
			return nil, fmt.Errorf("instance profile ARN %q: want arn:<partition>:iam::<account>:instance-profile/<name>", profile)
		}
		name = rest[strings.LastIndex(rest, "/")+1:]
	}
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
