package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/autoscaler/whatif"
	"github.com/kelp-dev/kelp/internal/cloud"
	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/pool"
)

// snapshotFlags choose what `kelp simulate` and `kelp explain pod` plan
// from: files of `kubectl get -o json`, or the live cluster; and the node
// groups: a pools file, or the live cloud's groups (read only).
type snapshotFlags struct {
	files []string
	live  bool
	pools string
	af    awsFlags
	ngf   nodeGroupFlags
}

func (f *snapshotFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSliceVar(&f.files, "from-files", nil, "files or directories of kubectl get -o json (or -o yaml) output to plan from instead of the live cluster: nodes, pods, namespaces, DaemonSets, PodDisruptionBudgets, PVs, PVCs, StorageClasses, CSINodes (and the priority expander's ConfigMap); repeatable")
	fs.BoolVar(&f.live, "live", false, "plan from the live cluster (the default without --from-files); it is only read")
	fs.StringVar(&f.pools, "pools", "", "pools file (as examples/cluster.yaml) giving the node groups; required with --from-files; without it the live cloud's groups are read (--cluster-name, --region, --nodes, --node-group-auto-discovery)")
	f.af.add(cmd)
	f.ngf.add(fs)
}

// whatIfFlags are the flags of kelp simulate and kelp explain pod.
type whatIfFlags struct {
	snapshot   snapshotFlags
	autoscaler autoscalerFlags
	out        outputFlag
}

func (f *whatIfFlags) add(cmd *cobra.Command) {
	f.snapshot.add(cmd)
	f.autoscaler.add(cmd.Flags())
	for _, name := range controllerOnlyFlags {
		if err := cmd.Flags().MarkHidden(name); err != nil {
			panic(err) // a flag renamed in autoscalerFlags
		}
	}
	f.out.add(cmd)
}

// controllerOnlyFlags are the autoscaler's flags that mean nothing for one
// simulated cycle, hidden from the what-if commands: nothing is changed
// anyway (--dry-run), there is no next cycle to time or batch, no pool is
// backed off by this cycle, no scale-down delay applies, no node is soft
// tainted or drained. They are still accepted, so a controller's flags
// can be pasted.
var controllerOnlyFlags = []string{"autoscaler", "dry-run", "scan-interval", "batch-idle-duration", "batch-max-duration",
	"batch-quiet-idle-duration", "initial-node-group-backoff-duration", "max-node-group-backoff-duration",
	"scale-down-delay-after-add", "scale-down-delay-after-delete", "scale-down-delay-after-failure",
	"max-bulk-soft-taint-count", "max-bulk-soft-taint-time", "max-graceful-termination"}

// situation checks the flags and runs the simulated cycle.
func (f *whatIfFlags) situation(ctx context.Context, client func() (kubernetes.Interface, error)) (situation, error) {
	if err := f.out.check(); err != nil {
		return situation{}, err
	}
	o, err := simulateOptions(&f.autoscaler)
	if err != nil {
		return situation{}, err
	}
	return f.snapshot.simulate(ctx, client, o)
}

// situation is what a what-if command plans from, and the simulated cycle.
type situation struct {
	src  whatif.Source
	objs loop.Objects
	sim  loop.Simulation
	o    loop.Options
	// client is the live cluster's, nil with --from-files.
	client kubernetes.Interface
}

// simulate reads the snapshot and the groups and runs one simulated cycle
// with o; client gives the live cluster's client (kubeFlags.client).
func (f *snapshotFlags) simulate(ctx context.Context, client func() (kubernetes.Interface, error), o loop.Options) (situation, error) {
	s := situation{o: o, src: whatif.Source{Files: f.files, Pools: f.pools}}
	switch {
	case f.live && len(f.files) > 0:
		return s, errors.New("--live and --from-files: choose one snapshot")
	case len(f.files) > 0 && f.pools == "":
		return s, errors.New("--pools is required with --from-files (the files hold no cloud)")
	}
	var err error
	if len(f.files) > 0 {
		s.objs, err = whatif.ReadFiles(f.files)
	} else {
		if s.client, err = client(); err != nil {
			return s, err
		}
		s.objs, err = whatif.ListLive(ctx, s.client, o.PriorityConfigMap, loop.ClusterAutoscalerPriorityConfigMap)
	}
	if err != nil {
		return s, err
	}
	groups, err := f.groups(ctx, s.objs)
	if err != nil {
		return s, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil)) // "dry run: would..." lines say what the plan says
	s.sim, err = loop.Simulate(ctx, o, loop.SimulateDeps{Objects: s.objs, Groups: groups, Logger: quiet})
	return s, err
}

// groups are the pools file's groups with the snapshot's nodes, or the
// live cloud's, read only.
func (f *snapshotFlags) groups(ctx context.Context, objs loop.Objects) (cloud.GroupLister, error) {
	if f.pools == "" {
		p, err := f.ngf.provider(ctx, &f.af)
		if err != nil {
			return nil, fmt.Errorf("read the live cloud's groups (or give --pools): %w", err)
		}
		return whatif.ReadOnly{Lister: p}, nil
	}
	cfg, err := pool.LoadConfig(f.pools)
	if err != nil {
		return nil, err
	}
	template := func(s pool.Spec, zones []string, region string) (cloud.NodeTemplate, error) {
		return awscloud.PoolTemplate(f.af.cluster, region, zones, s)
	}
	groups, err := whatif.PoolGroups(f.af.cluster, cfg, objs.Nodes, template)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.pools, err)
	}
	return whatif.Groups(groups), nil
}

func newSimulateCommand() *cobra.Command {
	var kf kubeFlags
	var f whatIfFlags
	cmd := &cobra.Command{
		Use:   "simulate [--from-files PATH... --pools FILE]",
		Short: "Print the plan kelp's autoscaler would make now, changing nothing",
		Long: `simulate runs one autoscaler cycle, the controller's own, on a snapshot:
the live cluster (only read), or files of kubectl get -o json. The node
groups come from a pools file (each pool's nodes by their kelp.dev/pool
label) or, live, from the cloud (only read). It prints the scale-up (which
pool, how many nodes, which pods, the expander's choice and what each other
pool would do), the pods no pool helps with the reason per pool, the
scale-down (the nodes that would go, and what keeps the others), and the
nodes and their price before and after. The autoscaler's flags apply, so
settings can be tried before they are rolled out (those of the controller's
timing, batching, backoff, drain and soft taints mean nothing for one cycle
and are hidden). A node found unneeded is taken as unneeded for longer than
--scale-down-unneeded-time. Pools are named by their kelp.dev/pool tag, as
kelp pool list shows them; their Auto Scaling group is named where it
grows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.situation(cmd.Context(), kf.client)
			if err != nil {
				return err
			}
			plan := whatif.Build(cmd.Context(), s.sim, s.o, s.objs.Nodes, s.src)
			return f.out.print(cmd.OutOrStdout(), plan, func() error { return plan.WriteText(cmd.OutOrStdout()) })
		},
	}
	kf.add(cmd)
	f.add(cmd)
	return cmd
}

// simulateOptions are the autoscaler's options from its flags; --autoscaler
// none leaves nothing to simulate.
func simulateOptions(af *autoscalerFlags) (loop.Options, error) {
	o, err := af.options()
	if err != nil {
		return loop.Options{}, err
	}
	if o == nil {
		return loop.Options{}, errors.New("--autoscaler none: there is no autoscaler to simulate")
	}
	return *o, nil
}
