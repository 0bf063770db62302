package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

type poolRollOptions struct {
	prefs        cloud.RefreshPreferences
	warmup       time.Duration
	wait, cancel bool
	status       bool
	pollInterval time.Duration
}

func newPoolRollCommand(af *awsFlags) *cobra.Command {
	o := poolRollOptions{prefs: pool.DefaultRollPreferences()}
	cmd := &cobra.Command{
		Use:   "roll NAME [--wait] | roll NAME --status [--wait] | roll NAME --cancel",
		Short: "Replace every instance of a pool through an instance refresh, launching before terminating; old nodes are drained first",
		Long: `roll starts an instance refresh of the pool's Auto Scaling group: every instance
is replaced by one launched from the pool's current launch template ($Latest).
By default each replacement is launched before an old instance leaves
(--min-healthy-percentage 100, --max-healthy-percentage 110: one extra instance,
or 10 %, at a time). Old instances leave through kelp's drain hook, so the
controller drains their Nodes (PodDisruptionBudgets honoured) before they
terminate.

Every instance is replaced, not only the outdated ones kelp pool list counts:
AWS's SkipMatching compares launch template version numbers, and token rotation
writes a new version for every rotation, so kelp does not offer it.

--wait follows the refresh until it ends, printing its percentage and status;
--status shows the latest refresh (with --wait, follows it); --cancel stops
the running one (instances already replaced stay; leaving ones finish leaving).
Only one refresh runs at a time: starting another names the running one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPoolRoll(cmd, af, args[0], o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.prefs.MinHealthyPercentage, "min-healthy-percentage", pool.DefaultRollMinHealthyPercentage, "share of the desired capacity kept in service and healthy, 0 to 100")
	f.IntVar(&o.prefs.MaxHealthyPercentage, "max-healthy-percentage", pool.DefaultRollMaxHealthyPercentage, "share of the desired capacity that may run at once, 100 to 200 (above 100: launch before terminating)")
	f.DurationVar(&o.warmup, "instance-warmup", 0, "time a new instance counts as not yet healthy (default: the group's health check grace period)")
	f.BoolVar(&o.wait, "wait", false, "follow the refresh until it ends, printing progress")
	f.BoolVar(&o.status, "status", false, "show the pool's latest refresh instead of starting one")
	f.BoolVar(&o.cancel, "cancel", false, "cancel the pool's running refresh")
	f.DurationVar(&o.pollInterval, "poll-interval", 10*time.Second, "how often --wait reads the refresh")
	return cmd
}

func runPoolRoll(cmd *cobra.Command, af *awsFlags, name string, o poolRollOptions) error {
	if o.cancel && (o.status || o.wait) {
		return errors.New("roll: --cancel takes neither --status nor --wait")
	}
	if cmd.Flags().Changed("instance-warmup") {
		o.prefs.InstanceWarmup = &o.warmup
	}
	if err := o.prefs.Validate(); err != nil {
		return fmt.Errorf("roll: %w", err)
	}
	if o.pollInterval <= 0 {
		return fmt.Errorf("roll: --poll-interval %s: want a positive duration", o.pollInterval)
	}
	prov, err := af.provisioner(cmd.Context(), nil)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	var r cloud.InstanceRefresh
	switch {
	case o.cancel:
		id, err := prov.CancelRoll(cmd.Context(), name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "pool %s: instance refresh %s cancelling\n", name, id)
		return nil
	case o.status:
		if r, err = prov.RollStatus(cmd.Context(), name); err != nil {
			return err
		}
		printRefresh(out, name, r)
	default:
		if r, err = prov.Roll(cmd.Context(), name, o.prefs); err != nil {
			return err
		}
		fmt.Fprintf(out, "pool %s: instance refresh %s started: %d instances to replace (min healthy %d%%, max healthy %d%%)\n",
			name, r.ID, r.InstancesToUpdate, o.prefs.MinHealthyPercentage, o.prefs.MaxHealthyPercentage)
	}
	if !o.wait || r.Status.Ended() {
		return nil
	}
	r, err = prov.WaitRoll(cmd.Context(), name, r.ID, o.pollInterval, func(r cloud.InstanceRefresh) { printRefresh(out, name, r) })
	if err != nil {
		return err
	}
	if r.Status != cloud.RefreshSuccessful {
		return fmt.Errorf("roll of pool %s ended %s: %s", name, r.Status, r.StatusReason)
	}
	return nil
}

// printRefresh prints one line of a refresh's progress.
func printRefresh(w io.Writer, name string, r cloud.InstanceRefresh) {
	line := fmt.Sprintf("pool %s: instance refresh %s %s, %d%% done, %d instances to replace", name, r.ID, r.Status, r.PercentageComplete, r.InstancesToUpdate)
	if r.StatusReason != "" {
		line += ": " + r.StatusReason
	}
	fmt.Fprintln(w, line)
}
