package aws

import (
	"context"
	"fmt"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// This file is instance refresh (kelp pool roll): Auto Scaling's
// StartInstanceRefresh, DescribeInstanceRefreshes and
// CancelInstanceRefresh, every call through call. A refresh already
// running is cloud.ErrRefreshInProgress, none to cancel
// cloud.ErrNoActiveRefresh (errors.go).

var _ cloud.InstanceRefresher = (*Provider)(nil)

// StartInstanceRefresh implements cloud.InstanceRefresher with the
// Rolling strategy and no DesiredConfiguration: replacements launch from
// the group's own launch template (for kelp's pools, $Latest), and the
// group's configuration is left as it is. A DesiredConfiguration would
// become the group's at the end: a numbered version would pin it, and
// token rotation's later versions would never be launched. SkipMatching is
// not sent (AWS's default, false): it compares version numbers, which
// token rotation bumps.
func (p *Provider) StartInstanceRefresh(ctx context.Context, group string, prefs cloud.RefreshPreferences) (string, error) {
	in := &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: sdkaws.String(group),
		Strategy:             astypes.RefreshStrategyRolling,
		Preferences: &astypes.RefreshPreferences{
			MinHealthyPercentage: sdkaws.Int32(int32(prefs.MinHealthyPercentage)),
			MaxHealthyPercentage: sdkaws.Int32(int32(prefs.MaxHealthyPercentage)),
		},
	}
	if w := prefs.InstanceWarmup; w != nil {
		in.Preferences.InstanceWarmup = sdkaws.Int32(int32(*w / time.Second))
	}
	out, err := call(ctx, p, "StartInstanceRefresh", func(ctx context.Context) (*autoscaling.StartInstanceRefreshOutput, error) {
		return p.as.StartInstanceRefresh(ctx, in)
	})
	if err != nil {
		return "", fmt.Errorf("start instance refresh of group %s: %w", group, err)
	}
	id := sdkaws.ToString(out.InstanceRefreshId)
	p.log.Info("instance refresh started", "group", group, "refresh", id,
		"minHealthy", prefs.MinHealthyPercentage, "maxHealthy", prefs.MaxHealthyPercentage)
	return id, nil
}

// DescribeInstanceRefreshes implements cloud.InstanceRefresher, reading
// every page.
func (p *Provider) DescribeInstanceRefreshes(ctx context.Context, group string, ids ...string) ([]cloud.InstanceRefresh, error) {
	in := &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: sdkaws.String(group), InstanceRefreshIds: ids}
	var out []cloud.InstanceRefresh
	for {
		page, err := call(ctx, p, "DescribeInstanceRefreshes", func(ctx context.Context) (*autoscaling.DescribeInstanceRefreshesOutput, error) {
			return p.as.DescribeInstanceRefreshes(ctx, in)
		})
		if err != nil {
			return nil, fmt.Errorf("describe instance refreshes of group %s: %w", group, err)
		}
		for _, r := range page.InstanceRefreshes {
			out = append(out, refreshFromAWS(r))
		}
		if sdkaws.ToString(page.NextToken) == "" {
			return out, nil
		}
		next := *in
		next.NextToken = page.NextToken
		in = &next
	}
}

func refreshFromAWS(r astypes.InstanceRefresh) cloud.InstanceRefresh {
	out := cloud.InstanceRefresh{
		ID:                 sdkaws.ToString(r.InstanceRefreshId),
		Group:              sdkaws.ToString(r.AutoScalingGroupName),
		Status:             cloud.RefreshStatus(r.Status),
		StatusReason:       sdkaws.ToString(r.StatusReason),
		PercentageComplete: int(sdkaws.ToInt32(r.PercentageComplete)),
		InstancesToUpdate:  int(sdkaws.ToInt32(r.InstancesToUpdate)),
		StartTime:          sdkaws.ToTime(r.StartTime),
		EndTime:            sdkaws.ToTime(r.EndTime),
	}
	if pr := r.Preferences; pr != nil {
		out.Preferences = cloud.RefreshPreferences{
			MinHealthyPercentage: int(sdkaws.ToInt32(pr.MinHealthyPercentage)),
			MaxHealthyPercentage: int(sdkaws.ToInt32(pr.MaxHealthyPercentage)),
		}
		if pr.InstanceWarmup != nil {
			w := time.Duration(*pr.InstanceWarmup) * time.Second
			out.Preferences.InstanceWarmup = &w
		}
	}
	return out
}

// CancelInstanceRefresh implements cloud.InstanceRefresher.
func (p *Provider) CancelInstanceRefresh(ctx context.Context, group string) (string, error) {
	out, err := call(ctx, p, "CancelInstanceRefresh", func(ctx context.Context) (*autoscaling.CancelInstanceRefreshOutput, error) {
		return p.as.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: sdkaws.String(group)})
	})
	if err != nil {
		return "", fmt.Errorf("cancel instance refresh of group %s: %w", group, err)
	}
	id := sdkaws.ToString(out.InstanceRefreshId)
	p.log.Info("instance refresh cancelled", "group", group, "refresh", id)
	return id, nil
}
