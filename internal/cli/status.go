package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/clusterview"
	"github.com/kelp-dev/kelp/internal/webview"
)

func newStatusCommand() *cobra.Command {
	var kf kubeFlags
	var out outputFlag
	var last int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show pools, nodes by phase, pending pods and kelp's last decisions (what the web view shows)",
		Long: `status reads the cluster once — Nodes, unbound pods, node CSRs, kelp's Events and
the status ConfigMap kube-system/` + loop.StatusConfigMap + ` the leading autoscaler writes — and prints
the pools with min, desired and max, their nodes by phase (launching, csr-pending,
joining, ready, not-ready, draining), the pending pods with why they wait and what
kelp decided, and the last decisions. -o json|yaml prints all of it. Bootstrap
token ids are masked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if last < 0 {
				return fmt.Errorf("--last %d: must not be negative", last)
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			in, err := webview.Snapshot(cmd.Context(), client, loop.StatusConfigMap)
			if err != nil {
				return fmt.Errorf("read the cluster: %w", err)
			}
			in.Now = time.Now()
			v := clusterview.Build(in)
			return out.print(cmd.OutOrStdout(), v, func() error { return printStatus(cmd.OutOrStdout(), v, last) })
		},
	}
	kf.add(cmd)
	out.add(cmd)
	cmd.Flags().IntVar(&last, "last", 10, "how many of the last decisions the table shows (-o json|yaml shows all the view holds)")
	return cmd
}

// printStatus writes the view as tables: the autoscaler's summary, pools,
// nodes that are not Ready, pending pods and the last decisions.
func printStatus(w io.Writer, v clusterview.View, last int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if a := v.Autoscaler; a != nil {
		fmt.Fprintf(tw, "Autoscaler: expanders %s, %d unschedulable pod(s), status of %s", a.Expanders, a.Unschedulable, a.Time)
		if a.DryRun {
			fmt.Fprint(tw, " (dry run)")
		}
		if a.Health != "" {
			fmt.Fprintf(tw, "; waiting: %s", a.Health)
		}
		fmt.Fprintln(tw)
	} else {
		fmt.Fprintf(tw, "Autoscaler: no status (kube-system/%s): no kelp autoscaler runs, or it has not written one yet\n", loop.StatusConfigMap)
	}
	for _, p := range v.Problems {
		fmt.Fprintf(tw, "Problem: %s\n", p)
	}
	fmt.Fprintln(tw, "\nPOOL\tGROUP\tMIN\tDESIRED\tMAX\tLAUNCHING\tCSR-PENDING\tJOINING\tREADY\tNOT-READY\tDRAINING\tBACKOFF")
	for _, p := range v.Pools {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d", p.Name, orNone(p.Group), p.Min, p.Desired, p.Max)
		for _, ph := range clusterview.Phases {
			fmt.Fprintf(tw, "\t%d", p.Phases[ph])
		}
		fmt.Fprintf(tw, "\t%s\n", orNone(p.Backoff))
	}
	ready := 0
	var other []clusterview.Node
	for _, n := range v.Nodes {
		if n.Phase == clusterview.PhaseReady {
			ready++
		} else {
			other = append(other, n)
		}
	}
	fmt.Fprintf(tw, "\nNodes: %d, %d Ready\n", len(v.Nodes), ready)
	if len(other) > 0 {
		fmt.Fprintln(tw, "NODE\tPOOL\tPHASE\tAGE\tDETAIL")
		for _, n := range other {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, orNone(n.Pool), n.Phase, age(n.AgeSeconds), n.Reason)
		}
	}
	fmt.Fprintf(tw, "\nPending pods: %d\n", len(v.Pending))
	if len(v.Pending) > 0 {
		fmt.Fprintln(tw, "POD\tWAITING\tWHY\tKELP DECIDED")
		for _, p := range v.Pending {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, age(p.AgeSeconds), oneLine(p.Waiting), orNone(oneLine(p.Decision)))
		}
	}
	return printDecisions(tw, v.Timeline, last)
}

func printDecisions(tw *tabwriter.Writer, timeline []clusterview.Decision, last int) error {
	shown := timeline[:min(last, len(timeline))]
	fmt.Fprintf(tw, "\nLast decisions: %d of %d\n", len(shown), len(timeline))
	if len(shown) > 0 {
		fmt.Fprintln(tw, "TIME\tKIND\tREASON\tOBJECT\tMESSAGE")
		for _, d := range slices.Backward(shown) {
			reason := d.Reason
			if d.Count > 1 {
				reason += fmt.Sprintf(" (x%d)", d.Count)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Time.Local().Format(time.TimeOnly), d.Kind, reason, orNone(d.Object), oneLine(d.Message))
		}
	}
	return tw.Flush()
}

func age(seconds int64) string { return duration.HumanDuration(time.Duration(seconds) * time.Second) }

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a message on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
