package cli

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

func newPoolDescribeCommand(af *awsFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show one pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			prov, err := af.provisioner(cmd.Context(), nil)
			if err != nil {
				return err
			}
			p, err := prov.Describe(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), newPoolView(p), func() error {
				types := strings.Join(p.InstanceTypes, ", ")
				if types == "" {
					types = "(the launch template's)"
				}
				profile := cmp.Or(p.InstanceProfile, "(none)")
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "Name:             %s\nGroup:            %s\nLaunch template:  %s\nInstance types:   %s\nCapacity type:    %s\nSize:             desired %d, instances %d, min %d, max %d\nJoin:             %s\nInstance profile: %s\nDrain hook:       %s\n",
					p.Name, p.GroupName, p.LaunchTemplate, types, p.CapacityType, p.Desired, p.Instances, p.MinSize, p.MaxSize, p.Join, profile, drainHookText(p.DrainHook))
				return err
			})
		},
	}
	out.add(cmd)
	return cmd
}

func newPoolScaleCommand(af *awsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "scale NAME N",
		Short: "Set a pool's desired capacity",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.ParseInt(args[1], 10, 32)
			if err != nil || n < 0 {
				return fmt.Errorf("scale: size %q: want a non-negative integer", args[1])
			}
			prov, err := af.provisioner(cmd.Context(), nil)
			if err != nil {
				return err
			}
			p, err := prov.Scale(cmd.Context(), args[0], int32(n))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pool %s scaled to %d\n", p.Name, p.Desired)
			return nil
		},
	}
}

func newPoolUpdateCommand(af *awsFlags) *cobra.Command {
	var u pool.Update
	var userDataFile string
	var minSize, maxSize int32
	cmd := &cobra.Command{
		Use:   "update NAME [--image AMI] [--instance-types T,...] [--user-data-file F] [--instance-profile P] [--min N] [--max N] [--metadata-http-tokens required|optional] [--metadata-hop-limit N] [--drain-heartbeat-timeout D]",
		Short: "Write a new launch template version (image, types, user-data, instance profile, metadata options) that new instances use; put the drain hook (a changed heartbeat timeout, or a pool without one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if userDataFile != "" {
				data, err := os.ReadFile(userDataFile)
				if err != nil {
					return fmt.Errorf("read --user-data-file: %w", err)
				}
				u.UserData = data
			}
			if cmd.Flags().Changed("min") {
				u.MinSize = &minSize
			}
			if cmd.Flags().Changed("max") {
				u.MaxSize = &maxSize
			}
			if err := checkHopLimitFlag(cmd, u.Metadata.HopLimit); err != nil {
				return err
			}
			if err := checkDrainHeartbeatFlag(cmd, u.DrainHeartbeatTimeout); err != nil {
				return err
			}
			if err := pool.CheckInstanceProfile(u.InstanceProfile); err != nil {
				return fmt.Errorf("--instance-profile: %w", err)
			}
			if u.ImageID == "" && len(u.InstanceTypes) == 0 && u.UserData == nil && u.MinSize == nil && u.MaxSize == nil &&
				u.Metadata == (pool.MetadataOptions{}) && u.DrainHeartbeatTimeout == 0 && u.InstanceProfile == "" {
				return errors.New("update: nothing to change; give --image, --instance-types, --user-data-file, --instance-profile, --min, --max, --metadata-http-tokens, --metadata-hop-limit or --drain-heartbeat-timeout")
			}
			prov, err := af.provisioner(cmd.Context(), nil)
			if err != nil {
				return err
			}
			p, err := prov.Update(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pool %s updated; new instances use the new launch template version\n", p.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&u.ImageID, "image", "", "new AMI id")
	cmd.Flags().StringSliceVar(&u.InstanceTypes, "instance-types", nil, "new instance types")
	cmd.Flags().StringVar(&userDataFile, "user-data-file", "", "new user-data")
	cmd.Flags().StringVar(&u.InstanceProfile, "instance-profile", "", "new IAM instance profile (name or ARN)")
	cmd.Flags().Int32Var(&minSize, "min", 0, "new minimum size")
	cmd.Flags().Int32Var(&maxSize, "max", 0, "new maximum size")
	cmd.Flags().StringVar(&u.Metadata.HTTPTokens, "metadata-http-tokens", "", "new instance metadata tokens: required (IMDSv2 only) or optional")
	cmd.Flags().Int32Var(&u.Metadata.HopLimit, "metadata-hop-limit", 0, "new instance metadata PUT response hop limit, 1 to 64")
	cmd.Flags().DurationVar(&u.DrainHeartbeatTimeout, drainHeartbeatFlag, 0, "new "+drainHeartbeatUsage+" (default: keep the current one)")
	return cmd
}

// checkHopLimitFlag refuses --metadata-hop-limit below 1: in a spec or an
// update 0 means "the default" or "unchanged", not a hop limit.
func checkHopLimitFlag(cmd *cobra.Command, v int32) error {
	if cmd.Flags().Changed("metadata-hop-limit") && v < 1 {
		return fmt.Errorf("--metadata-hop-limit %d: want 1 to 64", v)
	}
	return nil
}

const (
	drainHeartbeatFlag  = "drain-heartbeat-timeout"
	drainHeartbeatUsage = "heartbeat timeout of the drain hook, 30s to 2h: the longest a leaving instance waits for a dead controller"
)

// checkDrainHeartbeatFlag refuses a --drain-heartbeat-timeout outside
// AWS's bounds, naming the flag, before any call.
func checkDrainHeartbeatFlag(cmd *cobra.Command, d time.Duration) error {
	if !cmd.Flags().Changed(drainHeartbeatFlag) {
		return nil
	}
	return pool.ValidateDrainHeartbeatTimeout("--"+drainHeartbeatFlag, d)
}

// drainHookText is a pool's drain hook in a word: its name, heartbeat
// timeout and default result, or "no drain hook".
func drainHookText(h *cloud.LifecycleHook) string {
	if h == nil {
		return "no drain hook"
	}
	return fmt.Sprintf("%s %s %s", h.Name, h.HeartbeatTimeout, h.DefaultResult)
}

func newPoolAdoptHookCommand(af *awsFlags) *cobra.Command {
	var heartbeat time.Duration
	cmd := &cobra.Command{
		Use:   "adopt-hook GROUP [--drain-heartbeat-timeout D]",
		Short: "Put kelp's drain hook on an Auto Scaling group kelp manages but did not create (--nodes, discovery)",
		Long: `adopt-hook puts kelp's termination lifecycle hook (kelp-drain, default result
CONTINUE) on a group tagged kubernetes.io/cluster/<cluster>=owned that is not one
of kelp's pools: its leaving instances then wait for kelp to drain their Nodes.
kelp's own pools get the hook on create and update; this is for groups given
to the controller with --nodes or found by discovery. Running it again
changes nothing; with --drain-heartbeat-timeout it changes the timeout.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDrainHeartbeatFlag(cmd, heartbeat); err != nil {
				return err
			}
			prov, err := af.provisioner(cmd.Context(), nil)
			if err != nil {
				return err
			}
			h, err := prov.AdoptHook(cmd.Context(), args[0], heartbeat)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "group %s: drain hook %s\n", args[0], drainHookText(&h))
			return nil
		},
	}
	cmd.Flags().DurationVar(&heartbeat, drainHeartbeatFlag, 0, drainHeartbeatUsage+" (default: keep the current one, or 5m)")
	return cmd
}
