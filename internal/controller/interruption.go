package controller

import (
	"context"
	"log/slog"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kelp-dev/kelp/internal/interruption"
	"github.com/kelp-dev/kelp/internal/termination"
)

// SQSInterruptionQueue returns the Deps.InterruptionQueue of a real SQS
// queue: an interruption.Queue reading it with an SQS client of cfg (the
// AWS adapter's SDK config, so it shares region, endpoint, credentials and
// retries with the rest of kelp).
func SQSInterruptionQueue(cfg sdkaws.Config, logger *slog.Logger) func(string, func(context.Context, termination.Notice) error, prometheus.Registerer) (QueueConsumer, error) {
	client := sqs.NewFromConfig(cfg)
	return func(url string, handler func(context.Context, termination.Notice) error, reg prometheus.Registerer) (QueueConsumer, error) {
		return interruption.NewQueue(client, url, handler, logger.With("controller", "interruption-queue"), interruption.NewMetrics(reg)), nil
	}
}
