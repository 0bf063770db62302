package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// maxActivityPages bounds the DescribeScalingActivities pages read per
// group and refresh.
const maxActivityPages = 5

// watermark is how far a group's scaling activities have been read: every
// activity that started before since is settled (successful, failed,
// cancelled) and was looked at; reported holds the failed ones seen already
// that started at or after since, with their start times. failures are the
// launch failures still reported, with when the provider first saw them.
type watermark struct {
	since    time.Time
	reported map[string]time.Time
	failures []seenFailure
}

// seenFailure is a failed launch and when a Refresh first saw it.
type seenFailure struct {
	err  cloud.GroupError
	seen time.Time
}

// groupActivities returns the group's recent launch failures, oldest
// first, why each of its leaving instances leaves (the Cause of its
// termination activity still in progress, by instance ID), and the next
// watermark: each failure is reported by every call for
// ActivityLookback after the call that first saw it (cloud.NodeGroup.Errors
// is level-triggered), then never again. The first call for a group looks
// back ActivityLookback from now. since never moves past an activity still
// in progress, so a launch that fails after a refresh saw it in progress
// is still reported.
func (p *Provider) groupActivities(ctx context.Context, group string, mark watermark, now time.Time) ([]cloud.GroupError, map[string]string, watermark, error) {
	if mark.since.IsZero() {
		mark.since = now.Add(-p.cfg.ActivityLookback)
	}
	acts, err := p.activitiesSince(ctx, group, mark.since)
	if err != nil {
		return nil, nil, mark, fmt.Errorf("describe scaling activities of %s: %w", group, err)
	}
	leaving := leaveCauses(acts)
	next := watermark{since: mark.since, reported: map[string]time.Time{}}
	for _, f := range mark.failures {
		if now.Sub(f.seen) < p.cfg.ActivityLookback {
			next.failures = append(next.failures, f)
		}
	}
	var oldestOpen time.Time
	for _, a := range acts {
		start := sdkaws.ToTime(a.StartTime)
		next.since = maxTime(next.since, start)
		if !settled(a.StatusCode) && (oldestOpen.IsZero() || start.Before(oldestOpen)) {
			oldestOpen = start
		}
		if a.StatusCode != astypes.ScalingActivityStatusCodeFailed || !isLaunchActivity(a) {
			continue
		}
		id := sdkaws.ToString(a.ActivityId)
		if _, done := mark.reported[id]; !done {
			e := activityError(group, a)
			next.failures = append(next.failures, seenFailure{err: e, seen: now})
			p.log.Warn("node group launch failed", "group", group, "kind", e.Err, "code", e.Code,
				"instanceType", e.InstanceType, "zone", e.AvailabilityZone, "message", e.Message)
		}
		next.reported[id] = start
	}
	if !oldestOpen.IsZero() {
		next.since = oldestOpen
	}
	for id, start := range next.reported {
		if start.Before(next.since) {
			delete(next.reported, id)
		}
	}
	slices.SortStableFunc(next.failures, func(a, b seenFailure) int { return a.err.Time.Compare(b.err.Time) })
	errs := make([]cloud.GroupError, 0, len(next.failures))
	for _, f := range next.failures {
		errs = append(errs, f.err)
	}
	return errs, leaving, next, nil
}

// terminatingPrefix starts the Description of the activity that
// terminates an instance: "Terminating EC2 instance: i-…".
const terminatingPrefix = "Terminating EC2 instance: "

// leaveCauses returns the Cause of every termination activity still in
// progress, by instance ID. Activities are listed newest first, so an
// instance's latest activity wins.
func leaveCauses(acts []astypes.Activity) map[string]string {
	out := map[string]string{}
	for _, a := range acts {
		id, ok := strings.CutPrefix(sdkaws.ToString(a.Description), terminatingPrefix)
		if !ok || settled(a.StatusCode) {
			continue
		}
		if _, seen := out[id]; !seen {
			out[id] = sdkaws.ToString(a.Cause)
		}
	}
	return out
}

// activitiesSince reads the group's activities that started at or after
// since (newest first, as Auto Scaling lists them), at most
// maxActivityPages pages.
func (p *Provider) activitiesSince(ctx context.Context, group string, since time.Time) ([]astypes.Activity, error) {
	in := &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: sdkaws.String(group), MaxRecords: sdkaws.Int32(100)}
	var out []astypes.Activity
	for range maxActivityPages {
		page, err := call(ctx, p, "DescribeScalingActivities", func(ctx context.Context) (*autoscaling.DescribeScalingActivitiesOutput, error) {
			return p.as.DescribeScalingActivities(ctx, in)
		})
		if err != nil {
			return nil, err
		}
		older := false
		for _, a := range page.Activities {
			if sdkaws.ToTime(a.StartTime).Before(since) {
				older = true
				continue
			}
			out = append(out, a)
		}
		if older || sdkaws.ToString(page.NextToken) == "" {
			return out, nil
		}
		next := *in
		next.NextToken = page.NextToken
		in = &next
	}
	p.log.Warn("more scaling activities than read; the oldest are skipped", "group", group, "pages", maxActivityPages)
	return out, nil
}

// settled reports whether an activity will not change any more.
func settled(s astypes.ScalingActivityStatusCode) bool {
	switch s {
	case astypes.ScalingActivityStatusCodeSuccessful, astypes.ScalingActivityStatusCodeFailed,
		astypes.ScalingActivityStatusCodeCancelled:
		return true
	}
	return false
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
