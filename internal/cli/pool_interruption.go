package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/interruption"
)

func newPoolInterruptionQueueCommand(af *awsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "interruption-queue",
		Short: "Create, show or delete the SQS queue EventBridge fills with interruption events",
		Long: `interruption-queue manages the queue kelp controller --interruption-queue
consumes: an SQS queue (messages kept 300s), its policy letting EventBridge
send to it, and one EventBridge rule per kind of event (spot interruption
warnings, rebalance recommendations, terminate lifecycle actions of kelp's
drain hook, instances stopping or terminating, AWS Health scheduled changes)
with the queue as target. See docs/aws.md, "Interruption queue".`,
	}
	var hook string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create the queue, its policy and its rules, or bring them back to what kelp wants (idempotent)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInterruptionQueue(cmd, af, interruption.Spec{Name: args[0], HookName: hook}, interruption.EnsureQueue, outputFlag{})
		},
	}
	create.Flags().StringVar(&hook, "hook-name", "", "lifecycle hook whose terminate actions the queue receives (default kelp-drain, kelp's drain hook)")
	var out outputFlag
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show the queue and whether each of its rules exists, is enabled and sends to it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			return runInterruptionQueue(cmd, af, interruption.Spec{Name: args[0]}, interruption.DescribeQueue, out)
		},
	}
	out.add(show)
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete the queue's rules, then the queue",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := interruption.Spec{Name: args[0]}
			sq, eb, err := interruptionClients(cmd.Context(), af, spec)
			if err != nil {
				return err
			}
			if err := interruption.DeleteQueue(cmd.Context(), sq, eb, spec); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "interruption queue %s and its rules deleted\n", spec.Name)
			return nil
		},
	}
	cmd.AddCommand(create, show, del)
	return cmd
}

// interruptionClients validates spec, then builds the SQS and EventBridge
// clients from the AWS adapter's one SDK config loader.
func interruptionClients(ctx context.Context, af *awsFlags, spec interruption.Spec) (*sqs.Client, *eventbridge.Client, error) {
	if err := spec.Validate(); err != nil {
		return nil, nil, fmt.Errorf("interruption queue: %w", err)
	}
	cfg, err := af.config(ctx)
	if err != nil {
		return nil, nil, err
	}
	return sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), nil
}

type queueAction func(context.Context, interruption.SQSAdminAPI, interruption.EventBridgeAPI, interruption.Spec) (interruption.State, error)

func runInterruptionQueue(cmd *cobra.Command, af *awsFlags, spec interruption.Spec, act queueAction, out outputFlag) error {
	sq, eb, err := interruptionClients(cmd.Context(), af, spec)
	if err != nil {
		return err
	}
	st, err := act(cmd.Context(), sq, eb, spec)
	if errors.Is(err, interruption.ErrNotFound) {
		return fmt.Errorf("interruption queue %s does not exist: create it with kelp pool interruption-queue create %s", spec.Name, spec.Name)
	}
	if err != nil {
		return err
	}
	return out.print(cmd.OutOrStdout(), newQueueView(st), func() error { return printQueueState(cmd.OutOrStdout(), st) })
}

// queueView is an interruption queue as `show -o json|yaml` prints it.
type queueView struct {
	URL        string            `json:"url"`
	ARN        string            `json:"arn"`
	Complete   bool              `json:"complete"`
	Attributes map[string]string `json:"attributes"`
	Rules      []queueRuleView   `json:"rules"`
}

type queueRuleView struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	ARN      string `json:"arn,omitempty"`
	State    string `json:"state"`
	Targeted bool   `json:"targetsQueue"`
	Pattern  string `json:"eventPattern"`
}

func newQueueView(st interruption.State) queueView {
	v := queueView{URL: st.URL, ARN: st.ARN, Complete: st.Complete(), Attributes: st.Attributes, Rules: []queueRuleView{}}
	for _, r := range st.Rules {
		state := r.State
		if r.ARN == "" {
			state = "MISSING"
		}
		v.Rules = append(v.Rules, queueRuleView{Name: r.Name, Kind: r.Kind, ARN: r.ARN, State: state, Targeted: r.Targeted, Pattern: r.Pattern})
	}
	return v
}

func printQueueState(out io.Writer, st interruption.State) error {
	a := st.Attributes
	fmt.Fprintf(out, "Queue:      %s\nARN:        %s\nRetention:  %ss\nMessages:   %s waiting, %s in flight\n",
		st.URL, st.ARN, a["MessageRetentionPeriod"], a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"])
	status := "complete"
	if !st.Complete() {
		status = "INCOMPLETE: run kelp pool interruption-queue create again"
	}
	fmt.Fprintf(out, "Setup:      %s\n\n", status)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RULE\tSTATE\tTO QUEUE\tPATTERN")
	for _, r := range st.Rules {
		state, pattern := r.State, r.Pattern
		if r.ARN == "" {
			state = "MISSING"
		}
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", r.Name, state, r.Targeted, pattern)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nRun the controller with --interruption-queue %s\n", st.URL)
	return nil
}
