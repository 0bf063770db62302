package localup

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kelp-dev/kelp/internal/interruption"
)

// InterruptionQueueName is the interruption queue of a local cluster (the
// local cloud is the cluster's own, so one name serves every cluster).
const InterruptionQueueName = "kelp-interruptions"

// ensureInterruptionQueue sets the interruption queue up in the local
// cloud, as `kelp pool interruption-queue create` does on AWS, and has
// the controller consume it unless the config names another queue.
func (c *Cluster) ensureInterruptionQueue(ctx context.Context) error {
	cfg, err := c.AWSConfig(ctx)
	if err != nil {
		return err
	}
	st, err := interruption.EnsureQueue(ctx, sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg),
		interruption.Spec{Name: InterruptionQueueName})
	if err != nil {
		return fmt.Errorf("local interruption queue: %w", err)
	}
	if c.cfg.Controller.InterruptionQueue == "" {
		c.cfg.Controller.InterruptionQueue = st.URL
	}
	return nil
}

// InterruptionQueueURL is the URL of the queue the controller consumes.
func (c *Cluster) InterruptionQueueURL() string { return c.cfg.Controller.InterruptionQueue }
