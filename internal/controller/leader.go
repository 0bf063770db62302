package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// runWithLeaderElection runs the controllers while this process holds the
// Lease. On a signal it stops them first and only then releases the Lease,
// so two replicas never act at once; losing the Lease is an error, so the
// process exits and its supervisor restarts it as a standby.
func runWithLeaderElection(ctx context.Context, d Deps, run func(context.Context)) error {
	id, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("leader election identity: %w", err)
	}
	id = fmt.Sprintf("%s_%d", id, os.Getpid())
	// The elector's context outlives the signal until the controllers
	// have stopped.
	leCtx, releaseLease := context.WithCancel(context.WithoutCancel(ctx))
	defer releaseLease()
	var started atomic.Bool
	stopped := make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metaInKubeSystem("kelp-controller"),
			Client:     d.Client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		},
		ReleaseOnCancel: true,
		LeaseDuration:   15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leading context.Context) {
				started.Store(true)
				defer close(stopped)
				runCtx, cancel := context.WithCancel(leading)
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
				run(runCtx)
			},
			OnStoppedLeading: func() { d.Logger.Info("stopped leading", "identity", id) },
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	electorDone := make(chan struct{})
	go func() { defer close(electorDone); elector.Run(leCtx) }()
	select {
	case <-ctx.Done():
		if started.Load() {
			<-stopped
		}
		releaseLease()
		<-electorDone
		return nil
	case <-stopped:
		releaseLease()
		<-electorDone
		return errors.New("lost the kube-system/kelp-controller lease")
	case <-electorDone:
		return errors.New("leader election ended")
	}
}

func metaInKubeSystem(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name}
}
