package interruption_test

import (
	"context"
	"fmt"
	"log/slog"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kelp-dev/kelp/internal/interruption"
	"github.com/kelp-dev/kelp/internal/termination"
)

func ExampleParse() {
	body := `{"version":"0","id":"e1","detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2",
		"account":"123456789012","time":"2025-06-01T12:00:00Z","region":"us-east-1",
		"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890abcdef0"],
		"detail":{"instance-id":"i-1234567890abcdef0","instance-action":"terminate"}}`
	notices, err := interruption.Parse([]byte(body))
	if err != nil {
		panic(err)
	}
	for _, n := range notices {
		fmt.Println(n.Kind, n.InstanceID, n.Cause, n.Deadline.Format("15:04:05"))
	}
	// Output: warning i-1234567890abcdef0 spot-interruption 12:02:00
}

// A composition root consumes the queue: an SQS client from the AWS
// adapter's SDK config, a handler that hands each Notice to the drain
// controller (quickly: the message waits for it), Run until shutdown.
func ExampleNewQueue() {
	var cfg sdkaws.Config // from internal/cloud/aws.LoadSDKConfig
	handle := func(ctx context.Context, n termination.Notice) error {
		fmt.Println("drain", n.InstanceID, "because", n.Cause)
		return nil
	}
	q := interruption.NewQueue(sqs.NewFromConfig(cfg), "https://sqs.us-east-1.amazonaws.com/123456789012/kelp-prod-interruptions",
		handle, slog.Default(), interruption.NewMetrics(prometheus.NewRegistry()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // at shutdown
	_ = q.Run(ctx)
}
