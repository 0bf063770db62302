package cli

import (
	"fmt"
	"io"
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
kelp decided, the last scale-up and scale-down, and the last decisions, newest
first. Nodes whose CSR waits count apart from Nodes (they are none yet); an
identity join's pool is known only to the leader's web view, which sees the
cloud. -o json|yaml prints all of it. Bootstrap token ids are masked.`,
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
	printNodes(tw, v.Nodes)
	fmt.Fprintf(tw, "\nPending pods: %d\n", len(v.Pending))
	if len(v.Pending) > 0 {
		fmt.Fprintln(tw, "POD\tWAITING\tWHY\tKELP DECIDED")
		for _, p := range v.Pending {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, age(p.AgeSeconds), oneLine(p.Waiting), orNone(oneLine(p.Decision)))
		}
	}
	return printDecisions(tw, v, last)
}

// printNodes writes how many Nodes there are and how many are Ready —
// nodes whose CSR waits are no Node yet: they count apart — then every
// node that is not Ready.
func printNodes(tw *tabwriter.Writer, nodes []clusterview.Node) {
	registered, ready, csrPending := 0, 0, 0
	var other []clusterview.Node
	for _, n := range nodes {
		switch n.Phase {
		case clusterview.PhaseCSRPending:
			csrPending++
		case clusterview.PhaseReady:
			ready++
		}
		if n.Phase != clusterview.PhaseCSRPending {
			registered++
		}
		if n.Phase != clusterview.PhaseReady {
			other = append(other, n)
		}
	}
	fmt.Fprintf(tw, "\nNodes: %d (%d Ready)", registered, ready)
	if csrPending > 0 {
		fmt.Fprintf(tw, ", %d joining (CSR pending, no Node yet)", csrPending)
	}
	fmt.Fprintln(tw)
	if len(other) > 0 {
		fmt.Fprintln(tw, "NODE\tPOOL\tPHASE\tAGE\tDETAIL")
		for _, n := range other {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, orNone(n.Pool), n.Phase, age(n.AgeSeconds), n.Reason)
		}
	}
}

// printDecisions writes the last scale-up and scale-down (however many
// decisions came after them), then the last decisions, newest first as
// the web view lists them.
func printDecisions(tw *tabwriter.Writer, v clusterview.View, last int) error {
	fmt.Fprintln(tw)
	for _, d := range []struct {
		what string
		d    *clusterview.Decision
	}{{"Last scale-up", v.LastScaleUp}, {"Last scale-down", v.LastScaleDown}} {
		if d.d == nil {
			fmt.Fprintf(tw, "%s: none known\n", d.what)
			continue
		}
		fmt.Fprintf(tw, "%s: %s %s %s: %s\n", d.what, d.d.Time.Local().Format(time.DateTime), d.d.Reason, orNone(d.d.Object), oneLine(d.d.Message))
	}
	shown := v.Timeline[:min(last, len(v.Timeline))]
	fmt.Fprintf(tw, "\nLast decisions, newest first: %d of %d\n", len(shown), len(v.Timeline))
	if len(shown) > 0 {
		fmt.Fprintln(tw, "TIME\tKIND\tREASON\tOBJECT\tMESSAGE")
		for _, d := range shown {
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
