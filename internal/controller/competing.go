package controller

import (
	"context"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/competingapprovers"
)

// startCompetingApprovers runs the first check for competing approvers
// (internal/competingapprovers) and returns the monitor that repeats it
// while leading. In auto approve mode, without AllowCompetingApprovers, a
// kelp bootstrap token that kube-controller-manager's csrapproving would
// approve stops kelp here. With --approve off kelp decides no CSR and
// checks nothing (nil).
func startCompetingApprovers(ctx context.Context, o Options, d Deps) (*competingapprovers.Monitor, error) {
	if o.Approve == approver.ModeOff {
		return nil, nil
	}
	m := &competingapprovers.Monitor{
		Checker: competingapprovers.Checker{Client: d.Client},
		Pools: func(ctx context.Context) ([]string, error) {
			if d.Cloud == nil {
				return nil, nil
			}
			groups, err := d.Cloud.NodeGroups(ctx)
			pools := make([]string, 0, len(groups))
			for _, g := range groups {
				pools = append(pools, g.Pool)
			}
			return pools, err
		},
		Refuse:  o.Approve == approver.ModeAuto && !o.AllowCompetingApprovers,
		Logger:  d.Logger.With("controller", "competing-approvers"),
		Metrics: competingapprovers.NewMetrics(d.Registry),
	}
	if err := m.Start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}
