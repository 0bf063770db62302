package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kelp-dev/kelp/internal/bootstrap"
)

func newTokenCommand() *cobra.Command {
	var kf kubeFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and delete bootstrap tokens bound to a pool",
	}
	kf.add(cmd)
	cmd.AddCommand(newTokenCreateCommand(&kf), newTokenListCommand(&kf), newTokenDeleteCommand(&kf))
	return cmd
}

func newTokenCreateCommand(kf *kubeFlags) *cobra.Command {
	var spec bootstrap.TokenSpec
	cmd := &cobra.Command{
		Use:   "create --pool POOL",
		Short: "Create a bootstrap token for one pool and print it",
		Long: `create stores a bootstrap token in kube-system with the groups
system:bootstrappers:kelp and system:bootstrappers:kelp:<pool>, makes sure
kelp's bootstrappers may create CSRs (and nothing else), and prints the token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := spec.Validate(); err != nil {
				return fmt.Errorf("invalid token: %w", err)
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			if err := bootstrap.EnsureJoinRBAC(cmd.Context(), client); err != nil {
				return err
			}
			tok, err := bootstrap.CreateToken(cmd.Context(), client, spec, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok.String())
			return nil
		},
	}
	cmd.Flags().StringVar(&spec.Pool, "pool", "", "pool the token is bound to (a DNS label)")
	_ = cmd.MarkFlagRequired("pool")
	cmd.Flags().DurationVar(&spec.TTL, "ttl", 24*time.Hour, "how long the token authenticates")
	cmd.Flags().StringVar(&spec.Description, "description", "", "free text stored with the token")
	return cmd
}

func newTokenListCommand(kf *kubeFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List kelp's bootstrap tokens with pool, expiry and age (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			tokens, err := bootstrap.ListTokens(cmd.Context(), client)
			if err != nil {
				return err
			}
			now := time.Now()
			views := make([]tokenView, len(tokens))
			for i, t := range tokens {
				views[i] = newTokenView(t, now)
			}
			return out.print(cmd.OutOrStdout(), views, func() error {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
				fmt.Fprintln(w, "ID\tPOOL\tEXPIRES\tAGE\tDESCRIPTION")
				for _, t := range tokens {
					expires := t.Expires.UTC().Format(time.RFC3339)
					if t.Expired(now) {
						expires += " (expired)"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Pool, expires, duration.HumanDuration(now.Sub(t.Created)), t.Description)
				}
				return w.Flush()
			})
		},
	}
	out.add(cmd)
	return cmd
}

func newTokenDeleteCommand(kf *kubeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete bootstrap tokens by id",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			client, err := kf.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, id := range ids {
				if err := bootstrap.DeleteToken(cmd.Context(), client, id); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %s deleted\n", id)
			}
			return errors.Join(errs...)
		},
	}
}
