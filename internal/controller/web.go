package controller

import (
	"context"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/webview"
)

// serveWeb serves the web view on o.WebAddr until ctx ends, from watches
// of its own, so a standby shows the cluster too. Only the leader's
// autoscaler keeps the provider's snapshot of the groups fresh: the view
// shows the cloud's instances while this replica leads one, else what the
// status says of them.
func serveWeb(ctx context.Context, o Options, d Deps, replica *replicaState) error {
	var groups func(context.Context) []cloud.NodeGroup
	if o.Autoscaler != nil {
		groups = func(ctx context.Context) []cloud.NodeGroup {
			if !replica.isLeading() {
				return nil
			}
			gs, err := d.Cloud.NodeGroups(ctx)
			if err != nil {
				return nil
			}
			return gs
		}
	}
	s, err := webview.New(webview.Options{Addr: o.WebAddr, StatusConfigMap: loop.StatusConfigMap}, webview.Deps{
		Client: d.Client, Groups: groups, Leading: replica.isLeading, Registry: d.Registry, Logger: d.Logger.With("component", "web"),
	})
	if err != nil {
		return err
	}
	addr, err := s.Run(ctx)
	if err != nil {
		return err
	}
	d.Logger.Info("web view serving", "url", "http://"+addr.String()+"/", "tokenRequired", !webview.Loopback(o.WebAddr))
	return nil
}
